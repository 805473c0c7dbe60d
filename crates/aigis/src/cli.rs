//! Command-line types (clap). Only argument shapes live here.

use std::path::PathBuf;

use aigis_core::Severity;
use clap::{Parser, Subcommand, ValueEnum};

/// aigis — an AI security pipeline.
#[derive(Debug, Parser)]
#[command(name = "aigis", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum OutFormat {
    Table,
    Json,
    Sarif,
    Html,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Find code hidden in model files (pickle, `PyTorch`, `NumPy`, joblib, Keras, TensorFlow, ONNX, GGUF, safetensors).
    Scan(ScanArgs),
    /// Run the pipeline configured in DIR/aigis.toml and write aigis-report.json and .html.
    Run(RunArgs),
    /// List the rules, or explain one (`aigis rules SCN101`).
    Rules(RulesArgs),
    /// Create an ECDSA signing key pair (PKCS#8 PEM, private key mode 0600).
    Keygen(KeygenArgs),
    /// Sign a model file or directory (OpenSSF Model Signing v1.0, model-signing compatible).
    Sign(SignArgs),
    /// Verify a model against an OMS signature; exit 0 valid, 1 invalid or tampered, 2 error.
    Verify(VerifyArgs),
    /// The local transparency log: append, show, prove, verify, checkpoint.
    #[command(subcommand)]
    Log(LogCommand),
    /// The versioned model registry: push, list, show, pull, verify.
    #[command(subcommand)]
    Registry(RegistryCommand),
    /// Find PII and secrets in text and records.
    #[command(subcommand)]
    Pii(PiiCommand),
    /// Datasets: scan for PII, anonymise, tokenise, encrypt at rest.
    #[command(subcommand)]
    Data(DataCommand),
    /// Runtime protection: the gateway, its keys and kill switch, and its scanner chain offline.
    #[command(subcommand)]
    Guard(GuardCommand),
    /// The tamper-evident audit log: signing keys and verification.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Monitoring: data drift between a reference and a current table.
    #[command(subcommand)]
    Monitor(MonitorCommand),
    /// Incidents the gateway opened from its alerts: list, show (with the timeline),
    /// acknowledge, resolve.
    #[command(subcommand)]
    Incident(IncidentCommand),
    /// Attack an AI endpoint with probe suites and report the attack success rate per probe,
    /// family, OWASP item and ATLAS technique; `list`, `diff`, and `target` (the vulnerable
    /// reference server) as subcommands. Exit 1 when a family is above its --fail-on rate.
    Redteam(Box<RedteamArgs>),
    /// Model robustness of ONNX classifiers: evasion attacks (FGSM, PGD, APGD-CE, Square,
    /// HopSkipJump) and adversarial training.
    #[command(subcommand)]
    Robust(RobustCommand),
    /// A behavioural fingerprint of an ONNX classifier (its answers to seeded canary inputs
    /// and optional probes), or `--check FP.json`: exit 0 same behaviour, 1 changed, 2 error.
    Fingerprint(FingerprintArgs),
}

#[derive(Debug, clap::Args)]
pub struct FingerprintArgs {
    /// The ONNX model.
    pub model: PathBuf,
    /// Write the fingerprint here.
    #[arg(long, short = 'o', value_name = "FP.json", conflicts_with = "check")]
    pub output: Option<PathBuf>,
    /// Compare the model with this fingerprint instead.
    #[arg(long, value_name = "FP.json")]
    pub check: Option<PathBuf>,
    /// Extra probe inputs (.npz with `x`; `y` is not needed), the same at check time.
    #[arg(long, value_name = "P.npz")]
    pub probes: Option<PathBuf>,
    /// Seeded canary inputs.
    #[arg(long, default_value_t = 512)]
    pub canaries: usize,
    /// Seed of the canaries.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Valid input range `LO,HI` the canaries are drawn from.
    #[arg(long, default_value = "0,1", value_name = "LO,HI")]
    pub clip: String,
    /// Shape of one sample when the model's input has symbolic dimensions besides the batch
    /// (`1,28,28`).
    #[arg(long, value_delimiter = ',')]
    pub shape: Vec<usize>,
    /// Output format of `--check`.
    #[arg(long, short = 'f', value_enum, default_value = "table")]
    pub format: MachineFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum AttackKind {
    /// Fast gradient sign method (white-box, one step of size eps).
    Fgsm,
    /// Projected gradient descent (white-box, --steps steps of 2.5*eps/steps, from x).
    Pgd,
    /// APGD-CE, AutoAttack's step-size-free PGD with momentum (white-box, --steps, seeded
    /// random start).
    Apgd,
    /// Square Attack (black-box: output scores only; L-inf; --queries per sample).
    Square,
    /// HopSkipJump (black-box: labels only; --queries per sample).
    Hopskipjump,
    /// AutoAttack-style ensemble: apgd and square, per-sample worst case.
    Auto,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum EvalFormat {
    Table,
    Json,
    /// A self-contained page with the accuracy-vs-eps chart.
    Html,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum NormKind {
    /// Largest change of any value.
    Linf,
    /// Euclidean length of each sample's change.
    L2,
}

#[derive(Debug, Subcommand)]
pub enum RobustCommand {
    /// Clean and robust accuracy of an ONNX classifier under white-box and black-box attacks
    /// at one or more budgets, in the Adversarial Robustness Toolbox's conventions (L-inf,
    /// cross-entropy on the logits against the true label); several attacks count each
    /// sample's worst case, and black-box attacks beating white-box ones raise a
    /// gradient-masking warning. Data: .npz with x (float32 [N, ...]) and y (int64 [N]), or
    /// CSV rows label,f0,f1,...
    Eval {
        /// The ONNX model.
        #[arg(long, value_name = "M.onnx")]
        model: PathBuf,
        /// The test data.
        #[arg(long, value_name = "TEST.npz")]
        data: PathBuf,
        /// The attacks, comma-separated (`auto` = apgd,square).
        #[arg(long, value_enum, value_delimiter = ',', default_value = "pgd")]
        attack: Vec<AttackKind>,
        /// Perturbation budgets, comma-separated (`0.02,0.05,0.1` draws a curve).
        #[arg(long, value_delimiter = ',', required = true)]
        eps: Vec<f64>,
        /// PGD and APGD steps.
        #[arg(long, default_value_t = 20)]
        steps: usize,
        /// Norm: `linf` (sign steps) or `l2` (normalised-gradient steps, eps is each
        /// sample's Euclidean budget; not for fgsm or square).
        #[arg(long, value_enum, default_value = "linf")]
        norm: NormKind,
        /// PGD runs: the first from x, the rest from random points of the eps-ball; each
        /// sample's worst case counts.
        #[arg(long, default_value_t = 1)]
        restarts: usize,
        /// Model queries per sample of the black-box attacks.
        #[arg(long, default_value_t = 1000)]
        queries: usize,
        /// Seed of every random choice.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Valid input range `LO,HI`.
        #[arg(long, default_value = "0,1", value_name = "LO,HI")]
        clip: String,
        /// Input normalisation before the model: mean, one value or one per channel
        /// (`0.485,0.456,0.406`); budgets and --clip stay in the raw input space.
        #[arg(long, value_delimiter = ',', requires = "std")]
        mean: Vec<f32>,
        /// Input normalisation: standard deviation, one value or one per channel.
        #[arg(long, value_delimiter = ',', requires = "mean")]
        std: Vec<f32>,
        /// Output format.
        #[arg(long, short = 'f', value_enum, default_value = "table")]
        format: EvalFormat,
        /// Write the result here (atomically) instead of stdout.
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Adversarial training (Madry et al.): fine-tune the model's weights on PGD adversarial
    /// examples of the training data and write an ONNX model with the same graph, inputs and
    /// outputs; reports clean and robust accuracy before and after.
    Harden(HardenArgs),
}

#[derive(Debug, clap::Args)]
pub struct HardenArgs {
    /// The ONNX model to harden.
    #[arg(long, value_name = "M.onnx")]
    pub model: PathBuf,
    /// Training data (.npz with x and y, or CSV rows label,f0,f1,...).
    #[arg(long, value_name = "TRAIN.npz")]
    pub train: PathBuf,
    /// Held-out data for the before/after figures (default: the training data, said so in
    /// the report).
    #[arg(long, value_name = "TEST.npz")]
    pub test: Option<PathBuf>,
    /// Write the hardened model here (atomically).
    #[arg(long, short = 'o', value_name = "HARDENED.onnx")]
    pub output: PathBuf,
    /// Perturbation budget trained against (and evaluated at).
    #[arg(long)]
    pub eps: f64,
    /// Norm of the budget.
    #[arg(long, value_enum, default_value = "linf")]
    pub norm: NormKind,
    /// PGD steps per training batch (random start, step 2.5*eps/steps).
    #[arg(long, default_value_t = 7)]
    pub steps: usize,
    /// PGD steps of the before/after evaluation.
    #[arg(long, default_value_t = 20)]
    pub eval_steps: usize,
    /// Passes over the training data.
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    /// Rows per training batch.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// Seed of the shuffles and random starts.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Valid input range `LO,HI`.
    #[arg(long, default_value = "0,1", value_name = "LO,HI")]
    pub clip: String,
    /// Input normalisation before the model: mean, one value or one per channel
    /// (`0.485,0.456,0.406`); budgets and --clip stay in the raw input space.
    #[arg(long, value_delimiter = ',', requires = "std")]
    pub mean: Vec<f32>,
    /// Input normalisation: standard deviation, one value or one per channel.
    #[arg(long, value_delimiter = ',', requires = "mean")]
    pub std: Vec<f32>,
    /// Format of the report on stdout.
    #[arg(long, short = 'f', value_enum, default_value = "table")]
    pub format: MachineFormat,
    /// No per-epoch lines on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum TargetKind {
    /// OpenAI-compatible chat completions (--base-url, --model).
    Openai,
    /// Any JSON HTTP API (--url, --request-template, --response-selector).
    Http,
    /// A local program: the prompt on stdin, the answer on stdout (--command).
    Command,
}

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct RedteamArgs {
    #[command(subcommand)]
    pub command: Option<RedteamCommand>,
    /// The kind of target.
    #[arg(long, value_enum, required = true)]
    pub target: Option<TargetKind>,
    /// openai: the API base, up to and including /v1 (http://127.0.0.1:8000/v1).
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// openai: the model name.
    #[arg(long)]
    pub model: Option<String>,
    /// Environment variable holding the target's API key (sent as a bearer token; never logged).
    #[arg(long, value_name = "VAR")]
    pub api_key_env: Option<String>,
    /// openai: max_tokens per answer.
    #[arg(long, default_value_t = 512)]
    pub max_tokens: u32,
    /// openai: sampling temperature (raise it with --generations for hit@k).
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f32,
    /// openai: ask for streamed answers (server-sent events), as chat front ends do.
    #[arg(long)]
    pub stream: bool,
    /// http: the endpoint.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// http: a JSON file whose strings hold {{prompt}} (and optionally {{system}}).
    #[arg(long, value_name = "FILE")]
    pub request_template: Option<PathBuf>,
    /// http: where the answer is, e.g. `$.outputs[0].data[0]`.
    #[arg(long, value_name = "PATH")]
    pub response_selector: Option<String>,
    /// http: an extra header `Name: value` (repeatable).
    #[arg(long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// command: the program (run without a shell; system prompt in $AIGIS_SYSTEM_PROMPT).
    #[arg(long, value_name = "PROGRAM")]
    pub command_program: Option<String>,
    /// command: an argument for the program (repeatable).
    #[arg(long = "command-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub command_args: Vec<String>,
    /// The operator's system prompt (a file); the harness appends its canary.
    #[arg(long, value_name = "FILE")]
    pub system_prompt: Option<PathBuf>,
    /// Families or family.probe names, comma-separated (default: all; see `aigis redteam list`).
    #[arg(long, value_delimiter = ',')]
    pub probes: Vec<String>,
    /// Buffs applied to every probe, comma-separated (each adds a rewritten copy).
    #[arg(long, value_delimiter = ',')]
    pub buffs: Vec<String>,
    /// At most N prompts per probe (0 = all).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub max_per_probe: usize,
    /// Extra probe data file (TOML, same format as the shipped ones; repeatable).
    #[arg(long = "probe-file", value_name = "FILE")]
    pub probe_files: Vec<PathBuf>,
    /// Answers asked per attack.
    #[arg(long, default_value_t = 1)]
    pub generations: u32,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// At most this many requests per second.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Seconds allowed per request.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
    /// Further tries after 429, 5xx and connection errors (with back-off).
    #[arg(long, default_value_t = 4)]
    pub retries: u32,
    /// Seed of markers and the canary (same seed: same prompts, cache hits).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Response cache (SQLite); default $XDG_CACHE_HOME/aigis/redteam.sqlite.
    #[arg(long, value_name = "FILE")]
    pub cache: Option<PathBuf>,
    /// Ask the target everything again; keep no cache.
    #[arg(long)]
    pub no_cache: bool,
    /// A CA certificate file (PEM) trusted beside the public roots.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// A second OpenAI-compatible endpoint that confirms mitigation-bypass successes.
    #[arg(long, value_name = "URL")]
    pub judge_base_url: Option<String>,
    /// The judge's model.
    #[arg(long)]
    pub judge_model: Option<String>,
    /// Environment variable with the judge's API key.
    #[arg(long, value_name = "VAR")]
    pub judge_api_key_env: Option<String>,
    /// Exit 1 when a family's attack success rate is above this: a rate for all families,
    /// `family=rate,…`, or `none`.
    #[arg(long, default_value = "0", value_name = "RATE")]
    pub fail_on: String,
    /// Output format (table on a terminal).
    #[arg(long, short = 'f', value_enum, default_value = "table")]
    pub format: OutFormat,
    /// Write the report here (atomically) instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Also write every attempt (prompt, response, verdict, evidence) as JSON lines here.
    #[arg(long, value_name = "FILE")]
    pub attempts_log: Option<PathBuf>,
    /// No progress bar.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum RedteamCommand {
    /// Probe families (rule, OWASP, ATLAS, probes, prompts) and buffs.
    List {
        /// Output format.
        #[arg(long, short = 'f', value_enum, default_value = "table")]
        format: MachineFormat,
    },
    /// Compare two JSON reports (before, after); exit 1 when a rate rose by more than
    /// --tolerance.
    Diff {
        /// The earlier report.
        before: PathBuf,
        /// The later report.
        after: PathBuf,
        /// How much a family's or probe's rate may rise (0 to 1).
        #[arg(long, default_value_t = 0.0)]
        tolerance: f64,
        /// Output format.
        #[arg(long, short = 'f', value_enum, default_value = "table")]
        format: MachineFormat,
    },
    /// Serve the deliberately vulnerable reference target (OpenAI-compatible) for tests and
    /// demos; --hardened refuses every attack.
    Target {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8000")]
        listen: String,
        /// The hardened twin.
        #[arg(long)]
        hardened: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum IncidentCommand {
    /// Open and acknowledged incidents (all with --all), newest first.
    List {
        /// The incident store (`[guard.serve] incidents`): a SQLite file or a `postgres://` URL.
        #[arg(long, value_name = "FILE")]
        store: PathBuf,
        /// Resolved ones too.
        #[arg(long)]
        all: bool,
        /// Output format.
        #[arg(long, short = 'f', value_enum, default_value = "table")]
        format: MachineFormat,
        /// `ocsf`: one OCSF 2005 Incident Finding per line instead (any -f).
        #[arg(long, value_enum, default_value = "native")]
        schema: IncidentSchema,
        /// With `--schema ocsf`: the team the incidents are assigned to (OCSF requires one).
        #[arg(long, default_value = "aigis", value_name = "NAME")]
        assignee_group: String,
    },
    /// One incident and its timeline (alerts, actions with their evidence, notes).
    Show {
        /// Its number.
        id: i64,
        /// The incident store.
        #[arg(long, value_name = "FILE")]
        store: PathBuf,
        /// Output format.
        #[arg(long, short = 'f', value_enum, default_value = "table")]
        format: MachineFormat,
        /// `ocsf`: the incident as one OCSF 2005 Incident Finding instead (any -f).
        #[arg(long, value_enum, default_value = "native")]
        schema: IncidentSchema,
        /// With `--schema ocsf`: the team the incident is assigned to (OCSF requires one).
        #[arg(long, default_value = "aigis", value_name = "NAME")]
        assignee_group: String,
    },
    /// The timeline of one incident only, oldest first: every alert, playbook action (with
    /// the alert as its evidence), acknowledgement and resolution.
    Timeline {
        /// Its number.
        id: i64,
        /// The incident store.
        #[arg(long, value_name = "FILE")]
        store: PathBuf,
        /// Output format: a table, or one JSON entry per line.
        #[arg(long, short = 'f', value_enum, default_value = "table")]
        format: MachineFormat,
    },
    /// Forensics: run the detectors over an audit log and file their alerts as incidents (exit
    /// 1 when any alert was raised).
    Replay {
        /// The audit log (JSON Lines; sealed segments first).
        #[arg(long, value_name = "FILE")]
        log: PathBuf,
        /// The incident store to file into (created if missing).
        #[arg(long, value_name = "FILE")]
        store: PathBuf,
        /// Thresholds from `[monitor.detect]` of this configuration.
        #[arg(long, short = 'c', value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Acknowledge an incident (someone is on it).
    Ack {
        /// Its number.
        id: i64,
        /// The incident store.
        #[arg(long, value_name = "FILE")]
        store: PathBuf,
        /// A note for the timeline.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Resolve an incident.
    Resolve {
        /// Its number.
        id: i64,
        /// The incident store.
        #[arg(long, value_name = "FILE")]
        store: PathBuf,
        /// A note for the timeline.
        #[arg(long, default_value = "")]
        note: String,
    },
}

/// Schemas `aigis incident list|show` can write.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum IncidentSchema {
    /// aigis's own incident objects.
    Native,
    /// OCSF 1.8 2005 Incident Finding.
    Ocsf,
}

#[derive(Debug, Subcommand)]
pub enum MonitorCommand {
    /// Compare a current table with a reference, column by column: KS (numbers), chi-squared
    /// (categories), two-proportion z (two values), with effect sizes. Exit 0 no drift, 1
    /// drift, 2 error.
    Drift(DriftArgs),
    /// Store what drift needs of a reference table (exact: sorted numbers, text counts), so
    /// later runs read only the current table: `drift --reference PROFILE` gives the same
    /// report as the table itself.
    Profile(ProfileArgs),
    /// Replay a gateway audit log through the streaming detectors (rates per key and address,
    /// new-source bursts, block and error rates, output length, latency) and print the alerts.
    /// Exit 0 none, 1 alerts, 2 error.
    Detect(DetectArgs),
    /// Convert a gateway audit log's decision records to OCSF (6003 API Activity), Elastic ECS
    /// or OpenTelemetry GenAI attributes, one JSON object per line (docs/events.md).
    Events(EventsArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum EventSchema {
    /// aigis's own alert objects (detect only).
    Native,
    /// OCSF 1.8: 6003 API Activity for decisions, 2004 Detection Finding for alerts.
    Ocsf,
    /// Elastic Common Schema.
    Ecs,
    /// OpenTelemetry GenAI span attributes (decisions only).
    Otel,
}

#[derive(Debug, clap::Args)]
pub struct EventsArgs {
    /// The audit log (JSON Lines; sealed segments first).
    #[arg(long, value_name = "FILE")]
    pub log: PathBuf,
    /// Target schema.
    #[arg(long, value_enum)]
    pub schema: EventSchema,
}

#[derive(Debug, clap::Args)]
pub struct ProfileArgs {
    /// The reference table (CSV with a header row, or Parquet).
    #[arg(long, value_name = "FILE")]
    pub reference: PathBuf,
    /// Where to write the profile (atomically).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct DetectArgs {
    /// The audit log (JSON Lines, as `aigis guard serve` writes it; sealed segments first).
    #[arg(long, value_name = "FILE")]
    pub log: PathBuf,
    /// Thresholds and windows from `[monitor.detect]` of this configuration.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Output format: a table, or one JSON alert per line.
    #[arg(long, short = 'f', value_enum, default_value = "table")]
    pub format: MachineFormat,
    /// With `-f json`: alerts as aigis objects, OCSF 2004 Detection Findings or ECS alerts.
    #[arg(long, value_enum, default_value = "native")]
    pub schema: EventSchema,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum CorrectionArg {
    /// A column drifts when p < alpha / (columns tested).
    Bonferroni,
    /// Benjamini-Hochberg at false discovery rate alpha.
    Fdr,
    /// A column drifts when p < alpha.
    None,
}

#[derive(Debug, clap::Args)]
pub struct DriftArgs {
    /// The reference table: CSV with a header row, Parquet (flat columns), or a profile from
    /// `aigis monitor profile` (told apart by the file's first bytes).
    #[arg(long, value_name = "FILE")]
    pub reference: PathBuf,
    /// The current table (CSV or Parquet, same columns).
    #[arg(long, value_name = "FILE")]
    pub current: PathBuf,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value = "table")]
    pub format: MachineFormat,
    /// Write the report to FILE (atomically) instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Significance level.
    #[arg(long, default_value_t = 0.05)]
    pub alpha: f64,
    /// Correction for testing many columns.
    #[arg(long, value_enum, default_value = "bonferroni")]
    pub correction: CorrectionArg,
    /// A column drifts only if its effect size (normed Wasserstein for numbers, Jensen-Shannon
    /// distance otherwise) is at least this, whatever its p-value.
    #[arg(long, value_name = "X")]
    pub min_effect: Option<f64>,
    /// Fewest values per side for a p-value (fewer: `p_value: null` and a reason).
    #[arg(long, default_value_t = 30)]
    pub min_rows: usize,
    /// Column types instead of inference: a TOML file of `name = "numeric" | "categorical" |
    /// "binary" | "skip"` under `[columns]`.
    #[arg(long, value_name = "FILE")]
    pub schema: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Create an audit log signing key (Ed25519, mode 0600) and its public verifier (`.pub`).
    Keygen {
        /// The log's origin, e.g. `gateway.example.com/audit`.
        #[arg(long)]
        name: String,
        /// Private key file; the verifier goes to FILE.pub.
        #[arg(long, short = 'o', value_name = "FILE")]
        output: PathBuf,
    },
    /// Check an audit log: exit 0 intact, 1 a record altered, removed, reordered or inserted, or
    /// the log truncated behind its last signed checkpoint (the first bad record is named), 2
    /// usage error.
    Verify {
        /// The log: JSON Lines (checkpoints in LOG.checkpoints), or a `postgres://` URL (the
        /// chain whose log_id is the key's name).
        #[arg(long)]
        log: PathBuf,
        /// The verifier key (the `.pub` written by `aigis audit keygen`).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum GuardCommand {
    /// Run the input scanner chain over prompts; one JSON line per prompt:
    /// {"id":…, "verdict":"allow|flag|block", "score":0-1, "detectors":[…]}.
    /// Exit 0 all allowed, 1 any flagged or blocked, 2 errors.
    Classify(GuardClassifyArgs),
    /// List the input scanners of the chain in effect, in order.
    Scanners(GuardConfigArgs),
    /// Run the gateway of [guard.serve] (HTTP and HTTPS; audit log in files or PostgreSQL).
    /// Stops on Ctrl-C or SIGTERM after requests in flight.
    Serve(GuardServeArgs),
    /// API keys of the gateway: create (shown once), list, revoke.
    #[command(subcommand)]
    Keys(GuardKeysCommand),
    /// Take a route (`route:NAME`) or model (`model:NAME`) offline at once on a running
    /// gateway (503 with the reason), revoke a key (`key:ID`) or block a client network
    /// (`cidr:203.0.113.0/24`, 403), through its admin API; token from $AIGIS_ADMIN_TOKEN.
    Quarantine(GuardQuarantineArgs),
    /// Bring a quarantined route, model, key or network back.
    Release(GuardReleaseArgs),
}

#[derive(Debug, clap::Args)]
pub struct GuardAdminArgs {
    /// The gateway's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// The admin token (the gateway's admin-token-env).
    #[arg(long, env = "AIGIS_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: String,
}

#[derive(Debug, clap::Args)]
pub struct GuardQuarantineArgs {
    /// `route:NAME`, `model:NAME`, `key:ID` or `cidr:ADDR/LEN`.
    pub target: String,
    /// Why (shown to clients and in the list).
    #[arg(long, default_value = "taken offline by an operator")]
    pub reason: String,
    #[command(flatten)]
    pub admin: GuardAdminArgs,
}

#[derive(Debug, clap::Args)]
pub struct GuardReleaseArgs {
    /// `route:NAME`, `model:NAME`, `key:ID` or `cidr:ADDR/LEN`.
    pub target: String,
    #[command(flatten)]
    pub admin: GuardAdminArgs,
}

#[derive(Debug, clap::Args)]
pub struct GuardServeArgs {
    /// Project configuration with [guard.serve] and [guard.input].
    #[arg(long, short = 'c', value_name = "FILE", default_value = "aigis.toml")]
    pub config: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct GuardStoreArgs {
    /// SQLite key store (the `keys` of [guard.serve]).
    #[arg(long, value_name = "FILE", default_value = "guard-keys.db")]
    pub store: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum GuardKeysCommand {
    /// Create a key; it is printed once on stdout and only its digest is stored.
    Create {
        /// Who or what the key is for.
        #[arg(long)]
        name: String,
        /// Routes the key may use (repeatable; default all).
        #[arg(long = "route", value_name = "NAME")]
        routes: Vec<String>,
        #[command(flatten)]
        store: GuardStoreArgs,
    },
    /// List keys (ids, names, scopes, state); never the keys themselves.
    List {
        #[command(flatten)]
        store: GuardStoreArgs,
    },
    /// Revoke a key by id; it stops working at the next request. With --url, the running
    /// gateway is told too, and through its shared state (Redis) every replica at once.
    Revoke {
        /// The key id (the 8 characters after `aig_`).
        id: String,
        #[command(flatten)]
        store: GuardStoreArgs,
        /// A running gateway's base URL (its admin API; token from $AIGIS_ADMIN_TOKEN).
        #[arg(long)]
        url: Option<String>,
        /// The admin token, with --url.
        #[arg(long, env = "AIGIS_ADMIN_TOKEN", hide_env_values = true)]
        admin_token: Option<String>,
    },
}

#[derive(Debug, clap::Args)]
pub struct GuardConfigArgs {
    /// Project configuration whose [guard.input] builds the chain (default: built-in chain).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct GuardClassifyArgs {
    /// Prompts (`-` for stdin): JSONL records `{"id":…, "text":…}`, or one prompt per line
    /// with --input-format text.
    #[arg(long, short = 'i', default_value = "-")]
    pub input: PathBuf,
    /// Input format (default: text for .txt files, else jsonl).
    #[arg(long, value_parser = ["jsonl", "text"])]
    pub input_format: Option<String>,
    /// JSONL: dotted path of the prompt in each record.
    #[arg(long, value_name = "PATH", default_value = "text")]
    pub text_field: String,
    /// Output format (one JSON object per prompt).
    #[arg(long, short = 'f', default_value = "jsonl", value_parser = ["jsonl"])]
    pub format: String,
    /// Write to FILE (atomically) instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub config: GuardConfigArgs,
    /// No progress bar or summary.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Which entity types appear in which column or field, in how many records.
    /// Exit 0 nothing over the thresholds, 1 findings, 2 error.
    Scan(DataScanArgs),
    /// Rewrite detected entities (default operator `replace`; per type in [data.anonymize]).
    Redact(AnonymizeArgs),
    /// Tokenise detected entities, reversibly (default operator `tokenize`; needs a vault key).
    Tokenize(AnonymizeArgs),
    /// Restore tokens anywhere in the text, and FPE columns named in [data.anonymize] columns.
    Detokenize(AnonymizeArgs),
    /// Create a vault key (mode 0600) or, with --age, an age X25519 identity.
    Keygen(DataKeygenArgs),
    /// Encrypt a file in the age v1 format (interoperable with `age`/`rage`).
    Encrypt(EncryptArgs),
    /// Decrypt an age file; the output appears only if the whole file authenticates.
    Decrypt(DecryptArgs),
}

#[derive(Debug, clap::Args)]
pub struct DataScanArgs {
    /// Dataset files or directories (CSV, JSONL, Parquet, text).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Read only the first N records of each file (0 = all).
    #[arg(long, default_value_t = 0)]
    pub sample: u64,
    /// Ignore entities scoring below this.
    #[arg(long, default_value_t = 0.5)]
    pub min_score: f32,
    /// Allowed records per type before it is a finding: `TYPE=N` or `column:TYPE=N` (repeatable).
    #[arg(long, value_name = "TYPE=N")]
    pub allow: Vec<String>,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value = "table")]
    pub format: OutFormat,
    /// Fail (exit 1) on findings at or above this severity.
    #[arg(long, default_value = "low")]
    pub fail_on: Severity,
}

#[derive(Debug, clap::Args)]
pub struct AnonymizeArgs {
    /// Input file (`-` for stdin).
    pub input: PathBuf,
    /// Output file, written atomically (`-` for stdout).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: PathBuf,
    /// Input format (default: from the extension; .csv, .jsonl/.ndjson, .parquet, else text).
    /// The output has the input's format.
    #[arg(long, value_parser = ["text", "jsonl", "csv", "parquet"])]
    pub input_format: Option<String>,
    /// CSV/Parquet: only these columns (repeatable; default all string columns).
    #[arg(long, value_name = "NAME")]
    pub column: Vec<String>,
    /// JSONL: only the string at this dotted path (repeatable; default every string).
    #[arg(long, value_name = "PATH")]
    pub text_field: Vec<String>,
    /// Operator for one entity type, `TYPE=OP` (repeatable; overrides the config).
    #[arg(long, value_name = "TYPE=OP")]
    pub operator: Vec<String>,
    /// Whole-cell operator for a CSV column or JSON path, `NAME=OP` (repeatable).
    #[arg(long, value_name = "NAME=OP")]
    pub column_operator: Vec<String>,
    /// Operator for types not listed: keep, redact, replace, mask, mask:N, hash, tokenize, fpe.
    #[arg(long, value_name = "OP")]
    pub default: Option<String>,
    /// aigis.toml to read [data.anonymize] from (default: ./aigis.toml if present).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Vault key file (else $AIGIS_VAULT_KEY holds the key itself).
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Entities scoring below this are left alone.
    #[arg(long, default_value_t = 0.4)]
    pub min_score: f32,
    /// No progress bar or summary.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(Debug, clap::Args)]
pub struct DataKeygenArgs {
    /// Key file to write (mode 0600; refuses to overwrite).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: PathBuf,
    /// Write an age X25519 identity instead (its public key is printed on stdout).
    #[arg(long)]
    pub age: bool,
}

#[derive(Debug, clap::Args)]
pub struct EncryptArgs {
    /// Plaintext file (`-` for stdin).
    pub input: PathBuf,
    /// Output file, written atomically (`-` for stdout).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: PathBuf,
    /// Recipient public key `age1…` (repeatable).
    #[arg(long, short = 'r', value_name = "AGE1…")]
    pub recipient: Vec<String>,
    /// File of recipients, one `age1…` per line (`#` comments).
    #[arg(long, short = 'R', value_name = "FILE")]
    pub recipients_file: Vec<PathBuf>,
    /// Encrypt with a passphrase read from FILE (or $AIGIS_AGE_PASSPHRASE with `-`).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["recipient", "recipients_file"])]
    pub passphrase_file: Option<PathBuf>,
    /// ASCII armour (PEM-style text) instead of binary.
    #[arg(long, short = 'a')]
    pub armor: bool,
}

#[derive(Debug, clap::Args)]
pub struct DecryptArgs {
    /// Encrypted file, binary or armoured (`-` for stdin).
    pub input: PathBuf,
    /// Output file, written atomically only after the whole file authenticated.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: PathBuf,
    /// Identity file (`AGE-SECRET-KEY-1…`, as written by age-keygen or `aigis data keygen --age`).
    #[arg(
        long,
        short = 'i',
        value_name = "FILE",
        required_unless_present = "passphrase_file"
    )]
    pub identity: Option<PathBuf>,
    /// The file is passphrase-encrypted; read the passphrase from FILE (or
    /// $AIGIS_AGE_PASSPHRASE with `-`).
    #[arg(long, value_name = "FILE", conflicts_with = "identity")]
    pub passphrase_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum PiiCommand {
    /// Detect entities; one JSON line per record: {"id":…, "entities":[{"type","start","end","score"}]}
    /// with offsets in Unicode scalar values. Exit 0 none found, 1 entities found, 2 errors.
    Detect(PiiDetectArgs),
    /// List the recognizers and the entity types they emit.
    Recognizers,
}

#[derive(Debug, clap::Args)]
pub struct PiiDetectArgs {
    /// Input file (`-` for stdin): plain text (a record per line), JSONL, CSV or Parquet.
    #[arg(long, short = 'i', default_value = "-")]
    pub input: PathBuf,
    /// Input format (default: from the extension — .csv, .jsonl/.ndjson — or jsonl when
    /// --text-field is given, else text).
    #[arg(long, value_parser = ["text", "jsonl", "csv", "parquet"])]
    pub input_format: Option<String>,
    /// CSV/Parquet: only these columns (repeatable; default all, with a per-column summary on stderr).
    #[arg(long, value_name = "NAME")]
    pub column: Vec<String>,
    /// JSONL: dotted path of the text in each record (`text`, `message.content`, `turns.0.text`).
    #[arg(long, value_name = "PATH")]
    pub text_field: Option<String>,
    /// Output format (one JSON object per record).
    #[arg(long, short = 'f', default_value = "jsonl", value_parser = ["jsonl"])]
    pub format: String,
    /// Write to FILE (atomically) instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Report entities scoring at least this (0-1).
    #[arg(long, default_value_t = 0.4)]
    pub min_score: f32,
    /// Only these entity types (comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "TYPE,…")]
    pub entities: Vec<String>,
    /// No progress bar or summary.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// Where aigis keeps its state (log, registry, caches).
#[derive(Debug, Clone, clap::Args)]
pub struct HomeArgs {
    /// State directory (transparency log, registry).
    #[arg(long, env = "AIGIS_HOME", value_name = "DIR", default_value_os_t = default_home())]
    pub home: PathBuf,
}

fn default_home() -> PathBuf {
    std::env::var_os("HOME").map_or_else(
        || PathBuf::from(".aigis"),
        |h| PathBuf::from(h).join(".aigis"),
    )
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum CurveArg {
    P256,
    P384,
    P521,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum HashArg {
    /// SHA-256 per file: the OMS default, verifiable by model-signing's CLI.
    Sha256,
    /// BLAKE3 per file, parallel inside large files (model-signing verifies it only through its API).
    Blake3,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum MachineFormat {
    Table,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct KeygenArgs {
    /// Private key file to write (PKCS#8 PEM, mode 0600).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: PathBuf,
    /// Public key file (default: the private key path with `.pub.pem`).
    #[arg(long, value_name = "FILE")]
    pub public: Option<PathBuf>,
    /// Curve.
    #[arg(long, value_enum, default_value = "p256")]
    pub curve: CurveArg,
    /// Encrypt the private key with the passphrase in FILE (or in $AIGIS_KEY_PASSPHRASE).
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
    /// Encrypt with the passphrase from $AIGIS_KEY_PASSPHRASE.
    #[arg(long)]
    pub encrypt: bool,
    /// Overwrite existing files.
    #[arg(long)]
    pub force: bool,
}

/// Options shared by sign and verify that decide which files are covered.
#[derive(Debug, Clone, clap::Args)]
pub struct WalkArgs {
    /// Leave this path (relative to the working directory, or absolute) out of the signature (repeatable).
    #[arg(long = "ignore-paths", value_name = "PATH")]
    pub ignore_paths: Vec<PathBuf>,
    /// Cover .git, .gitattributes, .github and .gitignore too.
    #[arg(long)]
    pub no_ignore_git_paths: bool,
    /// Follow symlinks to files inside the model instead of refusing them.
    #[arg(long)]
    pub allow_symlinks: bool,
}

#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// Model file or directory.
    pub model: PathBuf,
    /// Private key (PEM: PKCS#8, encrypted PKCS#8 or SEC1).
    #[arg(long, value_name = "PRIVATE.pem")]
    pub key: PathBuf,
    /// Signing certificate (PEM) for the certificate method.
    #[arg(long, value_name = "LEAF.pem")]
    pub cert: Option<PathBuf>,
    /// Intermediate certificates to include in the bundle (PEM, repeatable).
    #[arg(long, value_name = "CHAIN.pem", requires = "cert")]
    pub cert_chain: Vec<PathBuf>,
    /// Signature file to write.
    #[arg(long, value_name = "OUT", default_value = "model.sig")]
    pub signature: PathBuf,
    /// Passphrase of an encrypted key, from FILE (or $AIGIS_KEY_PASSPHRASE).
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
    /// Per-file hash.
    #[arg(long, value_enum, default_value = "sha256")]
    pub hash: HashArg,
    #[command(flatten)]
    pub walk: WalkArgs,
    /// Also record per-tensor digests of safetensors and GGUF files inside the signed payload.
    #[arg(long)]
    pub tensors: bool,
    #[command(flatten)]
    pub home: HomeArgs,
    /// Do not record the signature in the transparency log.
    #[arg(long)]
    pub no_log: bool,
    /// Summary format on stdout.
    #[arg(long, short = 'f', value_enum, default_value = "table")]
    pub format: MachineFormat,
    /// No progress bar.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Model file or directory.
    pub model: PathBuf,
    /// Public key (PEM SubjectPublicKeyInfo) for the key method.
    #[arg(long, value_name = "PUBLIC.pem", conflicts_with = "cert_chain")]
    pub key: Option<PathBuf>,
    /// Trusted root certificates (PEM, repeatable) for the certificate method.
    #[arg(long, value_name = "ROOT.pem")]
    pub cert_chain: Vec<PathBuf>,
    /// Signature file.
    #[arg(long, value_name = "SIG")]
    pub signature: PathBuf,
    #[command(flatten)]
    pub walk: WalkArgs,
    /// Hash only the files the signature names (extra files are not reported).
    #[arg(long)]
    pub ignore_unsigned_files: bool,
    /// Re-hash only files whose inode, size, mtime or ctime changed since the last `--cached`
    /// verify on this machine (cache in HOME/cache; local re-checks only, never used when signing).
    #[arg(long)]
    pub cached: bool,
    #[command(flatten)]
    pub home: HomeArgs,
    /// Do not record the verification in the transparency log.
    #[arg(long)]
    pub no_log: bool,
    /// Result format on stdout.
    #[arg(long, short = 'f', value_enum, default_value = "table")]
    pub format: MachineFormat,
    /// No progress bar.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum LogCommand {
    /// Append a JSON object (from FILE or `-` for stdin) as a new entry.
    Append {
        /// JSON file, or `-`.
        file: PathBuf,
        #[command(flatten)]
        home: HomeArgs,
    },
    /// Print entries as JSON lines (all, or one index).
    Show {
        /// Entry index.
        index: Option<u64>,
        #[command(flatten)]
        home: HomeArgs,
    },
    /// Print an inclusion proof for an entry, or a consistency proof from an older checkpoint.
    Prove {
        /// Entry index for an inclusion proof.
        #[arg(required_unless_present = "since")]
        index: Option<u64>,
        /// Older signed checkpoint file: print a consistency proof from it to now.
        #[arg(long, value_name = "CHECKPOINT", conflicts_with = "index")]
        since: Option<PathBuf>,
        #[command(flatten)]
        home: HomeArgs,
    },
    /// Verify the whole log, or (with --proof and --log-key) a proof file offline.
    Verify {
        /// A checkpoint kept elsewhere that the log must still extend (rollback check).
        #[arg(long, value_name = "CHECKPOINT")]
        trusted: Option<PathBuf>,
        /// Inclusion or consistency proof file (from `aigis log prove`) to check offline.
        #[arg(long, value_name = "PROOF.json")]
        proof: Option<PathBuf>,
        /// The log's public key (`log.pub`, or the string `aigis log key` prints).
        #[arg(long, value_name = "KEY", requires = "proof")]
        log_key: Option<String>,
        #[command(flatten)]
        home: HomeArgs,
    },
    /// Print the latest signed checkpoint.
    Checkpoint {
        #[command(flatten)]
        home: HomeArgs,
    },
    /// Print the log's public key (give it to whoever checks proofs).
    Key {
        #[command(flatten)]
        home: HomeArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Store a model version: files (deduplicated), manifest, signature, scan report, provenance.
    #[command(disable_version_flag = true)]
    Push(RegistryPushArgs),
    /// List models and versions.
    List {
        /// Only this model.
        name: Option<String>,
        #[command(flatten)]
        reg: RegistryArgs,
        #[arg(long, short = 'f', value_enum, default_value = "table")]
        format: MachineFormat,
    },
    /// Show one version (NAME@VERSION) as JSON.
    Show {
        /// NAME@VERSION.
        reference: String,
        #[command(flatten)]
        reg: RegistryArgs,
    },
    /// Copy a version's files to DEST, checking every digest.
    Pull {
        /// NAME@VERSION.
        reference: String,
        /// Destination directory (must not exist).
        dest: PathBuf,
        #[command(flatten)]
        reg: RegistryArgs,
    },
    /// Re-hash a stored version and check its signature and log record.
    Verify {
        /// NAME@VERSION.
        reference: String,
        /// Public key to check the stored signature with.
        #[arg(long, value_name = "PUBLIC.pem")]
        key: Option<PathBuf>,
        /// Trusted roots for a certificate signature.
        #[arg(long, value_name = "ROOT.pem")]
        cert_chain: Vec<PathBuf>,
        #[command(flatten)]
        reg: RegistryArgs,
    },
}

#[derive(Debug, Clone, clap::Args)]
pub struct RegistryArgs {
    #[command(flatten)]
    pub home: HomeArgs,
    /// Registry index: `sqlite:PATH` (default: HOME/registry/index.db) or `postgres://…`.
    #[arg(long, env = "AIGIS_REGISTRY_INDEX", value_name = "URL")]
    pub index: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct RegistryPushArgs {
    /// Model file or directory.
    pub model: PathBuf,
    /// Model name.
    #[arg(long)]
    pub name: String,
    /// Version label.
    #[arg(long)]
    pub version: String,
    /// OMS signature of the model, stored with it after it verifies.
    #[arg(long, value_name = "SIG")]
    pub signature: Option<PathBuf>,
    /// Public key to verify --signature with.
    #[arg(long, value_name = "PUBLIC.pem")]
    pub key: Option<PathBuf>,
    /// Trusted roots to verify a certificate --signature with.
    #[arg(long, value_name = "ROOT.pem")]
    pub cert_chain: Vec<PathBuf>,
    /// Parent version (NAME@VERSION) this one derives from.
    #[arg(long, value_name = "NAME@VERSION")]
    pub parent: Option<String>,
    /// Push even when the scan finds problems or the signature does not verify (recorded).
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub reg: RegistryArgs,
}

#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// Files or directories to scan (directories recursively).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value = "table")]
    pub format: OutFormat,
    /// Write the output to FILE (atomically) instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Exit 1 when any finding is at or above this severity.
    #[arg(long, default_value = "medium", value_name = "SEVERITY")]
    pub fail_on: Severity,
    /// Trust an extra pickle global, as module:name (repeatable).
    #[arg(long, value_name = "MODULE:NAME")]
    pub allow: Vec<String>,
    /// Do not compute SHA-256 digests (faster on very large files; sha256 is null in JSON).
    #[arg(long)]
    pub no_digest: bool,
    /// Nesting limit for archives and pickles.
    #[arg(long, default_value_t = 8)]
    pub max_depth: u32,
    /// Per-file time budget in seconds.
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
    /// No progress bar or summary on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Project directory holding aigis.toml.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Write the reports here instead of the project directory.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Override [policy] fail-on.
    #[arg(long, value_name = "SEVERITY")]
    pub fail_on: Option<Severity>,
    /// What to print on stdout.
    #[arg(long, short = 'f', value_enum, default_value = "table")]
    pub format: OutFormat,
}

#[derive(Debug, clap::Args)]
pub struct RulesArgs {
    /// A rule id or name to explain.
    pub rule: Option<String>,
    /// Output format (table or json).
    #[arg(long, short = 'f', value_enum, default_value = "table")]
    pub format: OutFormat,
}

#[cfg(test)]
mod tests {
    #[test]
    fn clap_definitions_are_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
