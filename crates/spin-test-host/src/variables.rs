//! Variables as Spin resolves them (crates/expressions, spin-variables-env): at every guest
//! `get`, not once at start-up. The component's template is expanded and each app variable in
//! it is looked up in the providers in order: `--variable` values, the runtime config's
//! `[[variables_provider]]`s, then the environment provider Spin always adds last
//! (`SPIN_VARIABLE_<NAME>`, then a `.env` file in the working directory), then the manifest's
//! default.
//!
//! An environment lookup runs in `tokio::task::block_in_place`, as Spin's does: the worker
//! thread hands its other tasks to another thread first. That hand-off is most of what a
//! variable costs under Spin (measured 2026-12-05: 16 reads that fall through to the
//! environment take ~90 µs more than 16 answered by `--variable`), so the host pays it too.

use crate::manifest::Manifest;
use crate::runtime_config::{RuntimeConfig, VariablesProvider};
use anyhow::{Context, Result, bail};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::OnceLock;

/// Where an app variable's value comes from, in Spin's order.
pub struct Resolver {
    cli: HashMap<String, String>,
    providers: Vec<Provider>,
    defaults: HashMap<String, Option<String>>,
}

/// Names only: values may be secrets.
impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver")
            .field("variables", &self.defaults.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

enum Provider {
    Static(BTreeMap<String, String>),
    Env {
        prefix: String,
        /// `None`: this process's environment; `Some`: a test's.
        env: Option<HashMap<String, String>>,
        dotenv: Option<PathBuf>,
        dotenv_values: OnceLock<HashMap<String, String>>,
    },
}

impl Resolver {
    /// The providers for `manifest`; fails, as `spin up` does, on a `--variable` the app does
    /// not declare or a required variable nobody provides.
    pub fn new(
        manifest: &Manifest,
        cli: &[(String, String)],
        env: Option<&HashMap<String, String>>,
        runtime: &RuntimeConfig,
    ) -> Result<Self> {
        let mut providers = Vec::new();
        for p in &runtime.variables_providers {
            providers.push(match p {
                VariablesProvider::Static { values } => Provider::Static(values.clone()),
                VariablesProvider::Env { prefix, dotenv } => Provider::env(prefix, env, dotenv),
            });
        }
        // Spin appends its default environment provider even when one is configured.
        providers.push(Provider::env(
            "SPIN_VARIABLE",
            env,
            &Some(PathBuf::from(".env")),
        ));
        let resolver = Self {
            cli: cli.iter().cloned().collect(),
            providers,
            defaults: manifest
                .variables
                .iter()
                .map(|(name, v)| (name.clone(), v.default.clone()))
                .collect(),
        };
        for (name, _) in cli {
            if !manifest.variables.contains_key(name) {
                bail!("--variable {name:?} is not a variable of this app");
            }
        }
        for (name, v) in &manifest.variables {
            if v.required && resolver.value(name)?.is_none() {
                bail!("no value for required variable {name:?}");
            }
        }
        Ok(resolver)
    }

    /// `template` (a component variable's or an allowed host's) with its variables' values.
    pub fn expand(&self, template: &str) -> Result<String> {
        let mut out = String::new();
        for part in crate::manifest::parse_template(template)? {
            match part {
                crate::manifest::Part::Lit(l) => out.push_str(&l),
                crate::manifest::Part::Var(v) => out.push_str(
                    &self
                        .value(&v)?
                        .with_context(|| format!("variable {v:?} has no value"))?,
                ),
            }
        }
        Ok(out)
    }

    /// The app variable's value from the first provider that has one, or its default.
    fn value(&self, name: &str) -> Result<Option<String>> {
        if !self.defaults.contains_key(name) {
            bail!("no variable {name:?} in this app");
        }
        if let Some(v) = self.cli.get(name) {
            return Ok(Some(v.clone()));
        }
        for p in &self.providers {
            if let Some(v) = p.get(name)? {
                return Ok(Some(v));
            }
        }
        Ok(self.defaults.get(name).cloned().flatten())
    }
}

impl Provider {
    fn env(prefix: &str, env: Option<&HashMap<String, String>>, dotenv: &Option<PathBuf>) -> Self {
        Provider::Env {
            prefix: prefix.to_string(),
            env: env.cloned(),
            dotenv: dotenv.clone(),
            dotenv_values: OnceLock::new(),
        }
    }

    fn get(&self, name: &str) -> Result<Option<String>> {
        match self {
            Provider::Static(values) => Ok(values.get(name).cloned()),
            Provider::Env {
                prefix,
                env,
                dotenv,
                dotenv_values,
            } => {
                let key = format!("{prefix}_{}", name.to_ascii_uppercase());
                let lookup = || -> Result<Option<String>> {
                    let found = match env {
                        Some(map) => map.get(&key).cloned(),
                        None => match std::env::var(&key) {
                            Ok(v) => Some(v),
                            Err(std::env::VarError::NotPresent) => None,
                            Err(e) => bail!("failed to resolve env var {key}: {e}"),
                        },
                    };
                    if found.is_some() {
                        return Ok(found);
                    }
                    let Some(path) = dotenv else {
                        return Ok(None);
                    };
                    // Read once, at the first lookup it is needed for; a missing file is empty.
                    let values = dotenv_values.get_or_init(|| {
                        dotenvy::from_path_iter(path)
                            .into_iter()
                            .flatten()
                            .filter_map(|kv| kv.ok())
                            .collect()
                    });
                    Ok(values.get(&key).cloned())
                };
                match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
                    Ok(tokio::runtime::RuntimeFlavor::MultiThread) => {
                        tokio::task::block_in_place(lookup)
                    }
                    _ => lookup(),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn manifest() -> Manifest {
        Manifest::parse(
            r#"
            spin_manifest_version = 2
            [application]
            name = "vars"
            [variables]
            from_cli = { default = "default" }
            from_static = { default = "default" }
            from_env = { default = "default" }
            from_dotenv = { default = "default" }
            only_default = { default = "default" }
            secret = { required = true, secret = true }
            "#,
            Path::new("."),
        )
        .unwrap_or_else(|e| panic!("{e:#}"))
    }

    fn runtime(dir: &Path) -> RuntimeConfig {
        std::fs::write(dir.join("vars.env"), "TEST_FROM_DOTENV=\"from dotenv\"\n")
            .unwrap_or_else(|e| panic!("{e}"));
        // As in Spin, a relative `dotenv_path` is the process's working directory's.
        let dotenv = dir.join("vars.env");
        RuntimeConfig::parse(
            &format!(
                r#"
                [[variables_provider]]
                type = "static"
                values = {{ from_cli = "static", from_static = "static" }}
                [[variables_provider]]
                type = "env"
                prefix = "TEST"
                dotenv_path = {:?}
                "#,
                dotenv.display().to_string()
            ),
            dir,
            dir,
        )
        .unwrap_or_else(|e| panic!("{e:#}"))
    }

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn providers_answer_in_spins_order() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let env = env(&[
            ("TEST_FROM_STATIC", "env"),
            ("TEST_FROM_ENV", "env"),
            ("SPIN_VARIABLE_SECRET", "s3cret"),
        ]);
        let cli = [("from_cli".to_string(), "cli".to_string())];
        let r = Resolver::new(&manifest(), &cli, Some(&env), &runtime(dir.path()))
            .unwrap_or_else(|e| panic!("{e:#}"));
        let got = |name: &str| {
            r.expand(&format!("{{{{ {name} }}}}"))
                .unwrap_or_else(|e| panic!("{e:#}"))
        };
        assert_eq!(got("from_cli"), "cli");
        assert_eq!(got("from_static"), "static");
        assert_eq!(got("from_env"), "env");
        assert_eq!(got("from_dotenv"), "from dotenv");
        assert_eq!(got("only_default"), "default");
        assert_eq!(got("secret"), "s3cret");
        assert_eq!(
            r.expand("http://{{ from_env }}:{{from_cli}}")
                .unwrap_or_else(|e| panic!("{e:#}")),
            "http://env:cli"
        );
        assert!(!format!("{r:?}").contains("s3cret"), "{r:?}");
    }

    #[test]
    fn spin_up_refuses_a_missing_required_variable_and_an_unknown_cli_one() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let none = HashMap::new();
        let missing = Resolver::new(&manifest(), &[], Some(&none), &runtime(dir.path()));
        assert!(
            missing
                .map(|_| ())
                .is_err_and(|e| e.to_string().contains("\"secret\"")),
        );
        let env = env(&[("SPIN_VARIABLE_SECRET", "x")]);
        let unknown = [("nope".to_string(), "1".to_string())];
        let refused = Resolver::new(&manifest(), &unknown, Some(&env), &runtime(dir.path()));
        assert!(
            refused
                .map(|_| ())
                .is_err_and(|e| e.to_string().contains("nope"))
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_environment_lookup_runs_in_place_on_a_worker_as_spins_does() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let env = env(&[("SPIN_VARIABLE_SECRET", "x"), ("TEST_FROM_ENV", "env")]);
        let r = Resolver::new(&manifest(), &[], Some(&env), &runtime(dir.path()))
            .unwrap_or_else(|e| panic!("{e:#}"));
        // block_in_place panics on a current-thread runtime; on a worker it answers.
        let got =
            tokio::spawn(async move { r.expand("{{ from_env }}").map_err(|e| e.to_string()) })
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got.as_deref(), Ok("env"));
    }
}
