//! One description of a red-team run — target, probes, pacing, gate — read from the
//! `[redteam]` table of `aigis.toml` or built from `aigis redteam` flags, so the command and
//! the pipeline stage build targets and cases the same way.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::Error;
use crate::harness::Options;
use crate::probes::Selection;
use crate::report::Gate;
use crate::target::{
    ApiKey, CommandTarget, HttpTarget, Kind, OpenAiTarget, Selector, Settings, Target,
};

/// The kind of target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    /// OpenAI-compatible chat completions.
    Openai,
    /// Any JSON HTTP API.
    Http,
    /// A local program.
    Command,
}

/// A run, as `[redteam]` in `aigis.toml` spells it (kebab-case keys).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RunConfig {
    /// `openai`, `http` or `command`.
    pub target: TargetKind,
    /// openai: the API base up to `/v1`.
    #[serde(default)]
    pub base_url: Option<String>,
    /// openai: the model.
    #[serde(default)]
    pub model: Option<String>,
    /// Environment variable holding the API key.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// openai: `max_tokens`.
    #[serde(default = "default_max_tokens")]
    pub max_tokens: u32,
    /// openai: temperature.
    #[serde(default)]
    pub temperature: f32,
    /// openai: ask for `stream: true` and read the events.
    #[serde(default)]
    pub stream: bool,
    /// http: the endpoint.
    #[serde(default)]
    pub url: Option<String>,
    /// http: the request template file (JSON with `{{prompt}}`).
    #[serde(default)]
    pub request_template: Option<PathBuf>,
    /// http: the response selector.
    #[serde(default)]
    pub response_selector: Option<String>,
    /// http: extra headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// command: program and arguments.
    #[serde(default)]
    pub command: Vec<String>,
    /// The operator's system prompt file.
    #[serde(default)]
    pub system_prompt: Option<PathBuf>,
    /// Families or `family.probe` names (empty: all).
    #[serde(default)]
    pub probes: Vec<String>,
    /// Buffs.
    #[serde(default)]
    pub buffs: Vec<String>,
    /// At most this many prompts per probe (0: all).
    #[serde(default)]
    pub max_per_probe: usize,
    /// Extra probe data files.
    #[serde(default)]
    pub probe_files: Vec<PathBuf>,
    /// Answers per attack.
    #[serde(default = "one")]
    pub generations: u32,
    /// Requests in flight.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Requests per second at most.
    #[serde(default)]
    pub rate: Option<f64>,
    /// Seconds per request.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// Retries after 429, 5xx and connection errors.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// Seed of markers and canary.
    #[serde(default)]
    pub seed: u64,
    /// Extra CA certificates (PEM).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The response cache (SQLite); `None` with `no_cache` false means the caller's default.
    #[serde(default)]
    pub cache: Option<PathBuf>,
    /// Keep no cache.
    #[serde(default)]
    pub no_cache: bool,
    /// A judge endpoint (OpenAI-compatible) confirming mitigation-bypass successes.
    #[serde(default)]
    pub judge_base_url: Option<String>,
    /// The judge's model.
    #[serde(default)]
    pub judge_model: Option<String>,
    /// The judge's API key variable.
    #[serde(default)]
    pub judge_api_key_env: Option<String>,
    /// Gate: `default` for every family, or per family name.
    #[serde(default)]
    pub fail_on: BTreeMap<String, f64>,
}

fn default_max_tokens() -> u32 {
    512
}
fn one() -> u32 {
    1
}
fn default_concurrency() -> usize {
    16
}
fn default_timeout() -> u64 {
    60
}
fn default_retries() -> u32 {
    4
}

impl RunConfig {
    /// A configuration of `kind` with every default.
    pub fn new(kind: TargetKind) -> Self {
        RunConfig {
            target: kind,
            base_url: None,
            model: None,
            api_key_env: None,
            max_tokens: default_max_tokens(),
            temperature: 0.0,
            stream: false,
            url: None,
            request_template: None,
            response_selector: None,
            headers: BTreeMap::new(),
            command: Vec::new(),
            system_prompt: None,
            probes: Vec::new(),
            buffs: Vec::new(),
            max_per_probe: 0,
            probe_files: Vec::new(),
            generations: 1,
            concurrency: default_concurrency(),
            rate: None,
            timeout_secs: default_timeout(),
            retries: default_retries(),
            seed: 0,
            ca_file: None,
            cache: None,
            no_cache: false,
            judge_base_url: None,
            judge_model: None,
            judge_api_key_env: None,
            fail_on: BTreeMap::new(),
        }
    }

    fn settings(&self, base: &Path) -> Settings {
        Settings {
            timeout: Duration::from_secs(self.timeout_secs.max(1)),
            retries: self.retries,
            ca_file: self.ca_file.as_ref().map(|p| base.join(p)),
            ..Settings::default()
        }
    }

    /// The target; relative paths are resolved against `base`.
    pub fn target(&self, base: &Path) -> Result<Target, Error> {
        let need = |v: Option<&String>, key: &str| -> Result<String, Error> {
            v.cloned().ok_or_else(|| {
                Error::Config(format!(
                    "target {} needs {key} (--{key})",
                    format!("{:?}", self.target).to_lowercase()
                ))
            })
        };
        let key = |var: Option<&String>| var.map(|v| ApiKey::from_env(v)).transpose();
        let kind = match self.target {
            TargetKind::Openai => Kind::OpenAi(
                OpenAiTarget::new(
                    &need(self.base_url.as_ref(), "base-url")?,
                    &need(self.model.as_ref(), "model")?,
                    key(self.api_key_env.as_ref())?,
                    self.max_tokens,
                    self.temperature,
                )?
                .streaming(self.stream),
            ),
            TargetKind::Http => {
                let path = self.request_template.as_ref().ok_or_else(|| {
                    Error::Config(
                        "target http needs request-template (--request-template), a JSON file"
                            .into(),
                    )
                })?;
                let path = base.join(path);
                let template = std::fs::read_to_string(&path).map_err(|e| {
                    Error::Config(format!("request-template {}: {e}", path.display()))
                })?;
                let selector =
                    Selector::parse(&need(self.response_selector.as_ref(), "response-selector")?)?;
                Kind::Http(HttpTarget::new(
                    &need(self.url.as_ref(), "url")?,
                    &template,
                    selector,
                    self.headers
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                    key(self.api_key_env.as_ref())?,
                )?)
            }
            TargetKind::Command => {
                let (program, args) = self.command.split_first().ok_or_else(|| {
                    Error::Config(
                        "target command needs command = [\"program\", …] (--command-program)"
                            .into(),
                    )
                })?;
                Kind::Command(CommandTarget::new(program, args.to_vec())?)
            }
        };
        Target::new(kind, self.settings(base))
    }

    /// The judge, if configured.
    pub fn judge(&self, base: &Path) -> Result<Option<crate::harness::Judge>, Error> {
        match (&self.judge_base_url, &self.judge_model) {
            (Some(url), Some(model)) => {
                let key = self
                    .judge_api_key_env
                    .as_ref()
                    .map(|v| ApiKey::from_env(v))
                    .transpose()?;
                let t = OpenAiTarget::new(url, model, key, 8, 0.0)
                    .map_err(|e| Error::Config(format!("judge: {e}")))?;
                Ok(Some(crate::harness::Judge {
                    target: Target::new(Kind::OpenAi(t), self.settings(base))?,
                }))
            }
            (None, None) => Ok(None),
            _ => Err(Error::Config(
                "judge-base-url and judge-model go together".into(),
            )),
        }
    }

    /// The cases' selection; probe files are read relative to `base`.
    pub fn selection(&self, base: &Path) -> Result<Selection, Error> {
        let mut extra = Vec::new();
        for p in &self.probe_files {
            let path = base.join(p);
            let text = std::fs::read_to_string(&path).map_err(|e| Error::ProbeData {
                file: path.display().to_string(),
                message: e.to_string(),
            })?;
            extra.push((path.display().to_string(), text));
        }
        Ok(Selection {
            probes: self.probes.clone(),
            buffs: self.buffs.clone(),
            max_per_probe: self.max_per_probe,
            seed: self.seed,
            extra,
        })
    }

    /// The cases of the selection (probe files read relative to `base`).
    pub fn cases(&self, base: &Path) -> Result<Vec<crate::probes::Case>, Error> {
        crate::probes::build(&self.selection(base)?)
    }

    /// The harness options; the system prompt file is read relative to `base`.
    pub fn options(&self, base: &Path) -> Result<Options, Error> {
        let system_prompt = self
            .system_prompt
            .as_ref()
            .map(|p| {
                let path = base.join(p);
                std::fs::read_to_string(&path)
                    .map_err(|e| Error::Config(format!("system-prompt {}: {e}", path.display())))
            })
            .transpose()?;
        if self.rate.is_some_and(|r| r.is_nan() || r <= 0.0) {
            return Err(Error::Config(
                "rate: give a positive number of requests per second".into(),
            ));
        }
        Ok(Options {
            concurrency: self.concurrency.max(1),
            rate: self.rate,
            generations: self.generations.max(1),
            system_prompt,
            seed: self.seed,
            ..Options::default()
        })
    }

    /// The gate: `fail-on` entries (`default` and family names); every family at 0 when
    /// empty.
    pub fn gate(&self) -> Result<Gate, Error> {
        if self.fail_on.is_empty() {
            return Ok(Gate::default());
        }
        let text = self
            .fail_on
            .iter()
            .map(|(k, v)| {
                if k == "default" {
                    v.to_string()
                } else {
                    format!("{k}={v}")
                }
            })
            .collect::<Vec<_>>()
            .join(",");
        Gate::parse(&text)
    }

    /// The response cache at `path` unless `no-cache`.
    pub fn open_cache(
        &self,
        default: Option<PathBuf>,
        base: &Path,
    ) -> Result<Option<crate::cache::Cache>, Error> {
        if self.no_cache {
            return Ok(None);
        }
        match self.cache.as_ref().map(|p| base.join(p)).or(default) {
            Some(p) => crate::cache::Cache::open(&p).map(Some),
            None => Ok(None),
        }
    }
}

/// Build everything `cfg` describes and run it. `default_cache` is used when the config names
/// no cache; `stop` ends the run early (the result is then marked incomplete).
pub async fn run(
    cfg: &RunConfig,
    base: &Path,
    default_cache: Option<PathBuf>,
    progress: std::sync::Arc<dyn Fn(crate::harness::Progress) + Send + Sync>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<crate::harness::RunResult, Error> {
    run_cases(cfg, base, cfg.cases(base)?, default_cache, progress, stop).await
}

/// [`run`] with the cases built already (the caller counted them for a progress bar).
pub async fn run_cases(
    cfg: &RunConfig,
    base: &Path,
    cases: Vec<crate::probes::Case>,
    default_cache: Option<PathBuf>,
    progress: std::sync::Arc<dyn Fn(crate::harness::Progress) + Send + Sync>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<crate::harness::RunResult, Error> {
    use std::sync::Arc;
    if cases.is_empty() {
        return Err(Error::Config("the selection holds no probes".into()));
    }
    let options = cfg.options(base)?;
    let target = Arc::new(cfg.target(base)?);
    let judge = cfg.judge(base)?.map(Arc::new);
    let cache = cfg.open_cache(default_cache, base)?.map(Arc::new);
    Ok(crate::harness::run(target, cases, options, cache, judge, progress, stop).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_toml_form_reads_and_checks_its_keys() {
        let c: RunConfig = toml::from_str(
            "target = \"openai\"\nbase-url = \"http://127.0.0.1:9/v1\"\nmodel = \"m\"\nprobes = [\"jailbreak\"]\n[fail-on]\ndefault = 0.1\njailbreak = 0.05\n",
        )
        .expect("parses");
        assert!(c.target(Path::new(".")).is_ok());
        let g = c.gate().expect("gate");
        assert_eq!(g, Gate::parse("0.1,jailbreak=0.05").expect("gate"));
        assert!(toml::from_str::<RunConfig>("target = \"openai\"\nbogus = 1\n").is_err());
        let c: RunConfig =
            toml::from_str("target = \"http\"\nurl = \"http://x/y\"\n").expect("parses");
        let e = c
            .target(Path::new("."))
            .expect_err("template missing")
            .to_string();
        assert!(e.contains("request-template"), "{e}");
        let c: RunConfig = toml::from_str("target = \"command\"\n").expect("parses");
        assert!(
            c.target(Path::new("."))
                .expect_err("no program")
                .to_string()
                .contains("command = [")
        );
        let c: RunConfig = toml::from_str("target = \"openai\"\nmodel = \"m\"\n").expect("parses");
        assert!(
            c.target(Path::new("."))
                .expect_err("no url")
                .to_string()
                .contains("base-url")
        );
        let c: RunConfig =
            toml::from_str("target = \"openai\"\n[fail-on]\nnope = 0.1\n").expect("parses");
        assert!(c.gate().is_err());
        let c: RunConfig = toml::from_str("target = \"openai\"\nrate = -1.0\n").expect("parses");
        assert!(c.options(Path::new(".")).is_err());
    }
}
