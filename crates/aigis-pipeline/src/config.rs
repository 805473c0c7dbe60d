//! `aigis.toml`: the project's configuration. Unknown keys are errors, so a typo never turns a
//! control off silently. Every key is documented in `aigis.example.toml`.

use std::path::Path;

use aigis_core::Severity;
use aigis_core::policy::{self, Suppression};
use serde::Deserialize;

use crate::PipelineError;

/// The whole file.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[project]`.
    #[serde(default)]
    pub project: ProjectConfig,
    /// `[pipeline]`.
    #[serde(default)]
    pub pipeline: PipelineConfig,
    /// `[policy]`.
    #[serde(default)]
    pub policy: PolicyConfig,
    /// `[scan]`.
    #[serde(default)]
    pub scan: ScanConfig,
    /// `[sign]`.
    #[serde(default)]
    pub sign: Option<SignConfig>,
    /// `[verify]`.
    #[serde(default)]
    pub verify: Option<VerifyConfig>,
    /// `[data]`.
    #[serde(default)]
    pub data: DataConfig,
    /// `[guard]`: the gateway's scanner chains.
    #[serde(default)]
    pub guard: GuardConfig,
    /// `[drift]`: the `drift` stage.
    #[serde(default)]
    pub drift: Option<DriftConfig>,
    /// `[redteam]`: the `redteam` stage (the same settings as `aigis redteam` flags).
    #[serde(default)]
    pub redteam: Option<aigis_redteam::config::RunConfig>,
    /// `[robust]`: the `robust` stage.
    #[serde(default)]
    pub robust: Option<RobustConfig>,
    /// `[monitor]`: streaming detectors.
    #[serde(default)]
    pub monitor: MonitorConfig,
    /// `[[suppress]]` entries.
    #[serde(default)]
    pub suppress: Vec<Suppression>,
}

/// `[guard.stage]`: prompt sets the `guard` stage runs through `[guard.input]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct GuardStageConfig {
    /// Prompt files (JSONL with `text`, or one prompt per line for `.txt`) that must be blocked.
    #[serde(default)]
    pub attacks: Vec<String>,
    /// Prompt files that must not be blocked.
    #[serde(default)]
    pub benign: Vec<String>,
    /// Lowest share of attack prompts blocked (GRD201 below it).
    #[serde(default = "default_block_rate")]
    pub min_block_rate: f64,
    /// Highest share of benign prompts blocked (GRD202 above it).
    #[serde(default = "default_fp_rate")]
    pub max_false_positive_rate: f64,
}

fn default_block_rate() -> f64 {
    0.9
}
fn default_fp_rate() -> f64 {
    0.02
}

impl Default for GuardStageConfig {
    fn default() -> Self {
        Self {
            attacks: Vec::new(),
            benign: Vec::new(),
            min_block_rate: default_block_rate(),
            max_false_positive_rate: default_fp_rate(),
        }
    }
}

/// `[monitor]`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct MonitorConfig {
    /// `[monitor.detect]`: windows and thresholds of the streaming detectors.
    #[serde(default)]
    pub detect: aigis_monitor::detect::DetectConfig,
}

/// `[robust]`: the `robust` stage attacks the project's ONNX classifier on its test data and
/// gates on clean and robust accuracy.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RobustConfig {
    /// The ONNX model, relative to the project.
    pub model: String,
    /// The test data (`.npz` with `x` and `y`), relative to the project.
    pub data: String,
    /// Attacks, comma-separated: fgsm, pgd (default), apgd, square, hopskipjump, or auto
    /// (apgd and square); each sample's worst case counts.
    #[serde(default = "default_attack")]
    pub attack: String,
    /// Model queries per sample of the black-box attacks.
    #[serde(default = "default_queries")]
    pub queries: usize,
    /// Seed of the random starts and black-box searches.
    #[serde(default)]
    pub seed: u64,
    /// Perturbation budget.
    pub eps: f64,
    /// PGD steps.
    #[serde(default = "default_steps")]
    pub steps: usize,
    /// `linf` (default) or `l2`.
    #[serde(default = "default_norm")]
    pub norm: String,
    /// Valid input range.
    #[serde(default = "default_clip")]
    pub clip: [f32; 2],
    /// Input normalisation before the model, one value or one per channel (with `std`).
    #[serde(default)]
    pub mean: Vec<f32>,
    /// Input normalisation: standard deviations (with `mean`).
    #[serde(default)]
    pub std: Vec<f32>,
    /// Gate on accuracy without attack.
    #[serde(default)]
    pub min_clean_accuracy: Option<f64>,
    /// Gate on accuracy under the attack.
    #[serde(default)]
    pub min_robust_accuracy: Option<f64>,
}

fn default_attack() -> String {
    "pgd".into()
}
fn default_steps() -> usize {
    20
}
fn default_queries() -> usize {
    1000
}
fn default_norm() -> String {
    "linf".into()
}
fn default_clip() -> [f32; 2] {
    [0.0, 1.0]
}

/// `[drift]`: the `drift` stage compares a current table with a reference.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct DriftConfig {
    /// The reference table (CSV), relative to the project.
    pub reference: String,
    /// The current table (CSV, same columns).
    pub current: String,
    /// Significance level.
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    /// `bonferroni`, `fdr` or `none`.
    #[serde(default = "default_correction")]
    pub correction: String,
    /// A column drifts only if its effect size reaches this.
    #[serde(default)]
    pub min_effect: Option<f64>,
    /// Fewest values per side for a p-value.
    #[serde(default = "default_min_rows")]
    pub min_rows: usize,
    /// Column types (`[columns]` TOML), relative to the project.
    #[serde(default)]
    pub schema: Option<String>,
}

fn default_alpha() -> f64 {
    0.05
}
fn default_correction() -> String {
    "bonferroni".into()
}
fn default_min_rows() -> usize {
    30
}

/// `[guard]`: scanner chains of `aigis guard classify` (and of the gateway).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct GuardConfig {
    /// `[guard.input]`: the input scanner chain.
    #[serde(default)]
    pub input: aigis_guard::ChainConfig,
    /// `[guard.output]`: the response scanners of the gateway.
    #[serde(default)]
    pub output: aigis_guard::output::OutputConfig,
    /// `[guard.stage]`: the `guard` pipeline stage.
    #[serde(default)]
    pub stage: GuardStageConfig,
    /// `[guard.serve]`: the gateway (`aigis guard serve`).
    #[serde(default)]
    pub serve: Option<aigis_guard::gateway::GatewayConfig>,
}

/// `[sign]`: the `sign` stage signs the approved models and records them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SignConfig {
    /// Approved models (files or directories), relative to the project.
    pub models: Vec<String>,
    /// Private key (PEM), relative to the project or absolute. An encrypted key takes its
    /// passphrase from `$AIGIS_KEY_PASSPHRASE`.
    pub key: String,
    /// Signature directory; each model's signature is `<dir>/<model file name>.sig`.
    #[serde(default = "default_signatures")]
    pub signatures: String,
    /// Push each signed model to the registry as `<registry-prefix><model file name>@<version>`.
    #[serde(default)]
    pub version: Option<String>,
    /// Registry name prefix (default: none).
    #[serde(default)]
    pub registry_prefix: String,
    /// State directory (registry, transparency log), relative to the project.
    #[serde(default = "default_home")]
    pub home: String,
    /// Registry index URL (`sqlite:PATH` or `postgres://…`); default SQLite under `home`.
    #[serde(default)]
    pub index: Option<String>,
}

/// `[verify]`: the `verify` stage checks the approved models against their signatures.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct VerifyConfig {
    /// Models to verify (default: `[sign] models`).
    #[serde(default)]
    pub models: Vec<String>,
    /// Public key (PEM) for the key method.
    #[serde(default)]
    pub key: Option<String>,
    /// Trusted root certificates (PEM) for the certificate method.
    #[serde(default)]
    pub cert_chain: Vec<String>,
    /// Signature directory (as in `[sign]`).
    #[serde(default = "default_signatures")]
    pub signatures: String,
    /// Also check each model against its registry record `<prefix><file name>@<version>`.
    #[serde(default)]
    pub version: Option<String>,
    /// Registry name prefix.
    #[serde(default)]
    pub registry_prefix: String,
    /// State directory, relative to the project.
    #[serde(default = "default_home")]
    pub home: String,
    /// Registry index URL.
    #[serde(default)]
    pub index: Option<String>,
    /// Behavioural fingerprints to check (`aigis fingerprint -o`): ROB103 when a model's
    /// behaviour changed, even if it was signed again.
    #[serde(default)]
    pub fingerprints: Vec<FingerprintEntry>,
}

/// One `[[verify.fingerprints]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FingerprintEntry {
    /// The ONNX model, relative to the project.
    pub model: String,
    /// Its fingerprint (JSON), relative to the project.
    pub fingerprint: String,
    /// The probes it was taken with (`.npz` with `x`), if any.
    #[serde(default)]
    pub probes: Option<String>,
}

fn default_signatures() -> String {
    "signatures".into()
}

fn default_home() -> String {
    ".aigis".into()
}

/// `[data]`: the `data` stage (which datasets, thresholds) and the defaults of
/// `aigis data redact|tokenize|detokenize` (`[data.anonymize]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct DataConfig {
    /// Dataset files or directories (CSV, JSONL, text), relative to the project.
    #[serde(default = "default_data_paths")]
    pub paths: Vec<String>,
    /// Records read per file; 0 reads every record.
    #[serde(default)]
    pub sample: u64,
    /// Entities scoring below this are ignored.
    #[serde(default = "default_data_min_score")]
    pub min_score: f32,
    /// Records allowed to hold an entity type before it is a finding, by `TYPE` or
    /// `column:TYPE` (default 0 for every reported type).
    #[serde(default)]
    pub allow: std::collections::BTreeMap<String, u64>,
    /// Operators for anonymisation.
    #[serde(default)]
    pub anonymize: AnonymizeConfig,
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            paths: default_data_paths(),
            sample: 0,
            min_score: default_data_min_score(),
            allow: std::collections::BTreeMap::new(),
            anonymize: AnonymizeConfig::default(),
        }
    }
}

fn default_data_paths() -> Vec<String> {
    vec!["data".into()]
}

fn default_data_min_score() -> f32 {
    0.5
}

/// `[data.anonymize]`: operators (`keep`, `redact`, `replace`, `mask`, `mask:N`, `hash`,
/// `tokenize`, `fpe`) per entity type and per column or JSON path.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AnonymizeConfig {
    /// Operator for entity types not listed (default: `replace` for `aigis data redact`,
    /// `tokenize` for `aigis data tokenize`).
    #[serde(default)]
    pub default: Option<String>,
    /// Per entity type, e.g. `EMAIL_ADDRESS = "tokenize"`.
    #[serde(default)]
    pub entities: std::collections::BTreeMap<String, String>,
    /// Whole-cell operators per CSV column or JSON path, e.g. `account = "fpe"`.
    #[serde(default)]
    pub columns: std::collections::BTreeMap<String, String>,
    /// Vault key file, relative to the project (else `--key` or `$AIGIS_VAULT_KEY`).
    #[serde(default)]
    pub key: Option<String>,
}

impl AnonymizeConfig {
    /// The policy, with `fallback` as the default operator when none is configured.
    pub fn policy(
        &self,
        fallback: aigis_data::anonymize::Operator,
    ) -> Result<aigis_data::anonymize::Policy, String> {
        use aigis_data::anonymize::{Operator, Policy};
        let op = |key: &str, v: &str| {
            v.parse::<Operator>()
                .map_err(|e| format!("[data.anonymize] {key}: {e}"))
        };
        let mut p = Policy::new(match &self.default {
            Some(d) => op("default", d)?,
            None => fallback,
        });
        for (k, v) in &self.entities {
            p.entities
                .insert(k.clone(), op(&format!("entities.{k}"), v)?);
        }
        for (k, v) in &self.columns {
            p.columns.insert(k.clone(), op(&format!("columns.{k}"), v)?);
        }
        Ok(p)
    }
}

/// `[project]`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ProjectConfig {
    /// A name for reports.
    #[serde(default)]
    pub name: Option<String>,
}

/// `[pipeline]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// Stages to run, in order.
    #[serde(default = "default_stages")]
    pub stages: Vec<String>,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            stages: default_stages(),
        }
    }
}

fn default_stages() -> Vec<String> {
    vec!["scan".into()]
}

/// `[policy]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PolicyConfig {
    /// Findings at or above this severity fail the run.
    #[serde(default = "default_fail_on")]
    pub fail_on: Severity,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            fail_on: default_fail_on(),
        }
    }
}

fn default_fail_on() -> Severity {
    Severity::Medium
}

/// `[scan]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ScanConfig {
    /// Paths to scan, relative to the project directory.
    #[serde(default = "default_paths")]
    pub paths: Vec<String>,
    /// Extra allowed pickle globals, `module:name`.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Nesting limit for archives and pickles.
    #[serde(default)]
    pub max_depth: Option<u32>,
    /// Per-file time budget in seconds.
    #[serde(default)]
    pub timeout_secs: Option<u64>,
    /// Compute SHA-256 digests of scanned files.
    #[serde(default = "yes")]
    pub digest: bool,
}

impl Default for ScanConfig {
    fn default() -> Self {
        ScanConfig {
            paths: default_paths(),
            allow: Vec::new(),
            max_depth: None,
            timeout_secs: None,
            digest: true,
        }
    }
}

fn default_paths() -> Vec<String> {
    vec![".".into()]
}

fn yes() -> bool {
    true
}

/// Parse `module:name` (or `module.name` split at the last dot) for `--allow`.
pub fn parse_allow(s: &str) -> Option<(String, String)> {
    let (m, n) = s.split_once(':').or_else(|| s.rsplit_once('.'))?;
    (!m.is_empty() && !n.is_empty()).then(|| (m.to_string(), n.to_string()))
}

impl Config {
    /// Read and validate `path`.
    pub fn load(path: &Path) -> Result<Config, PipelineError> {
        let text = std::fs::read_to_string(path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                PipelineError::NoConfig(path.parent().unwrap_or(path).to_path_buf())
            } else {
                PipelineError::Io {
                    op: "reading",
                    path: path.to_path_buf(),
                    source,
                }
            }
        })?;
        Config::parse(&text).map_err(|message| PipelineError::Config {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Parse and validate config text.
    pub fn parse(text: &str) -> Result<Config, String> {
        let c: Config = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut problems = policy::validate(&c.suppress);
        for a in &c.scan.allow {
            if parse_allow(a).is_none() {
                problems.push(format!("scan.allow entry {a:?} is not module:name"));
            }
        }
        let inside =
            |p: &str| !(Path::new(p).is_absolute() || p.split(['/', '\\']).any(|x| x == ".."));
        let mut project_paths: Vec<(&str, &str)> = Vec::new();
        if let Some(sc) = &c.sign {
            project_paths.extend(sc.models.iter().map(|m| ("sign.models", m.as_str())));
            project_paths.push(("sign.signatures", &sc.signatures));
            project_paths.push(("sign.home", &sc.home));
            if sc.models.is_empty() {
                problems.push("sign.models is empty: list the approved models".into());
            }
        }
        if let Some(vc) = &c.verify {
            project_paths.extend(vc.models.iter().map(|m| ("verify.models", m.as_str())));
            project_paths.push(("verify.signatures", &vc.signatures));
            project_paths.push(("verify.home", &vc.home));
            if vc.key.is_some() != vc.cert_chain.is_empty() {
                problems.push("[verify] needs exactly one of key or cert-chain".into());
            }
        }
        for (key, p) in project_paths {
            if !inside(p) {
                problems.push(format!(
                    "{key} entry {p:?} must be relative and stay inside the project"
                ));
            }
        }
        for p in &c.scan.paths {
            if !inside(p) {
                problems.push(format!(
                    "scan.paths entry {p:?} must be relative and stay inside the project"
                ));
            }
        }
        if problems.is_empty() {
            Ok(c)
        } else {
            Err(problems.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_full_example_parse() {
        let c = Config::parse("").unwrap();
        assert_eq!(c.policy.fail_on, Severity::Medium);
        assert_eq!(c.pipeline.stages, vec!["scan"]);
        let ex = Config::parse(include_str!("../../../aigis.example.toml")).unwrap();
        assert!(!ex.suppress.is_empty());
        assert!(ex.sign.is_some() && ex.verify.is_some());
        assert_eq!(ex.guard.input.scanners.len(), 6);
        assert!(aigis_guard::Chain::new(&ex.guard.input).is_ok());
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors() {
        let e = Config::parse("[policy]\nfail_on = 'high'\n").unwrap_err();
        assert!(e.contains("fail_on"), "{e}");
        let e = Config::parse("[policy]\nfail-on = 'severe'\n").unwrap_err();
        assert!(e.contains("severe"), "{e}");
        let e = Config::parse("[scan]\npaths = ['../outside']\n").unwrap_err();
        assert!(e.contains("inside the project"), "{e}");
        let e = Config::parse("[sign]\nmodels = ['../m.pt']\nkey = 'k.pem'\n").unwrap_err();
        assert!(e.contains("sign.models"), "{e}");
        let e = Config::parse("[verify]\nkey = 'k.pem'\ncert-chain = ['r.pem']\n").unwrap_err();
        assert!(e.contains("exactly one"), "{e}");
        let e = Config::parse("[[suppress]]\nrule = 'SCN104'\nreason = ''\n").unwrap_err();
        assert!(e.contains("reason"), "{e}");
    }

    #[test]
    fn allow_syntax() {
        assert_eq!(parse_allow("a.b:C"), Some(("a.b".into(), "C".into())));
        assert_eq!(parse_allow("a.b.C"), Some(("a.b".into(), "C".into())));
        assert_eq!(parse_allow("nodots"), None);
    }
}
