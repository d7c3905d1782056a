//! One model-card type for every model reckon trains. The facts — name,
//! version, task, feature spec and features, input and output, thresholds and
//! hashes — are rendered from the model's `config.json` ([`facts`]), so a card
//! cannot contradict its config; the trainer writes the prose: intended use,
//! method, training data, validation, limits and the commands that reproduce it.

use reckon_onnx::ModelConfig;

/// What a trainer says about its model.
#[derive(Clone, Debug, Default)]
pub struct ModelCard {
    pub intended_use: String,
    /// The method: algorithm, parameters, export, serving.
    pub method: String,
    pub training: String,
    pub validation: String,
    pub limits: String,
    /// Shell commands that reproduce the folder byte for byte.
    pub reproduce: Vec<String>,
    /// Further ONNX models of the folder, by sub-folder (`iforest/`), with their configs.
    pub parts: Vec<(String, ModelConfig)>,
}

/// The fact lines of a part (a sub-folder's model).
fn part_facts(folder: &str, cfg: &ModelConfig) -> Vec<String> {
    let mut f = facts(cfg);
    f[0] = format!("Part `{folder}`: {} {}.", cfg.name, cfg.version);
    f
}

/// The lines of a card that come from `config.json`.
pub fn facts(cfg: &ModelConfig) -> Vec<String> {
    let thresholds = if cfg.thresholds.is_empty() {
        "none".to_string()
    } else {
        cfg.thresholds.iter().map(|(k, v)| format!("`{k}` = {v}")).collect::<Vec<_>>().join(", ")
    };
    vec![
        format!("# Model card: {} {}", cfg.name, cfg.version),
        format!(
            "Task `{}`; input `{}` → output `{}` (`{}`); ONNX Runtime {} through `ort`.",
            cfg.task,
            cfg.input,
            cfg.output,
            cfg.output_mapping,
            reckon_onnx::runtime::VERSION
        ),
        format!(
            "Features (`{}`, {} in column order): {}.",
            cfg.feature_spec,
            cfg.features.len(),
            cfg.features.join(", ")
        ),
        format!("Thresholds: {thresholds}."),
        format!("`model.onnx` sha256 `{}`; training data sha256 `{}`.", cfg.model_sha256, cfg.training_data_sha256),
    ]
}

impl ModelCard {
    /// The card as Markdown.
    pub fn render(&self, cfg: &ModelConfig) -> String {
        let f = facts(cfg);
        let parts: String =
            self.parts.iter().map(|(folder, c)| format!("\n\n{}", part_facts(folder, c).join("\n"))).collect();
        format!(
            "{title}\n\n## Intended use\n{use_}\n\n## Model\n{method}\n\n{f1}\n{f2}\n{f3}{parts}\n\n## Training data\n{training}\n\n{f4}\n\n\
## Validation\n{validation}\n\n## Limits\n{limits}\n\n## Reproduce\n```sh\n{cmds}\n```\n",
            title = f[0],
            use_ = self.intended_use.trim(),
            method = self.method.trim(),
            f1 = f[1],
            f2 = f[2],
            f3 = f[3],
            training = self.training.trim(),
            f4 = f[4],
            validation = self.validation.trim(),
            limits = self.limits.trim(),
            cmds = self.reproduce.join("\n"),
        )
    }
}

/// Why a card disagrees with its configs (the folder's and its parts'): the
/// first fact line it lacks.
pub fn check(card: &str, cfg: &ModelConfig, parts: &[(String, ModelConfig)]) -> Result<(), crate::LabError> {
    let lines: Vec<&str> = card.lines().collect();
    let mut all = facts(cfg);
    for (folder, c) in parts {
        all.extend(part_facts(folder, c));
    }
    match all.into_iter().find(|f| !lines.contains(&f.as_str())) {
        None => Ok(()),
        Some(f) => Err(crate::LabError::CardContradicts(f)),
    }
}

/// Folders as a card or a command line names them: `a b c`.
pub fn shown(dirs: &[std::path::PathBuf]) -> String {
    dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(" ")
}

/// The commands that reproduce a model folder: one `reckon generate` per
/// scenario it was trained or validated on, read from the scenario's own
/// `truth/summary.json` (seed, scale, profile, world), then `train` — the training
/// command. A folder that is not a generated scenario is named as such.
pub fn reproduce(scenarios: &[&std::path::Path], train: String) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    let scenarios: Vec<&std::path::Path> = scenarios.iter().copied().filter(|d| seen.insert(*d)).collect();
    let mut v: Vec<String> = scenarios
        .iter()
        .map(|d| {
            let summary = std::fs::read_to_string(d.join("truth/summary.json"))
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
            let c = summary.as_ref().map(|s| &s["config"]);
            match c.and_then(|c| Some((c["seed"].as_u64()?, c["scale"].as_u64()?))) {
                Some((seed, scale)) => {
                    let profile = c
                        .and_then(|c| c["profile"].as_str())
                        .filter(|p| *p != "standard")
                        .map_or(String::new(), |p| format!(" --profile {p}"));
                    let world =
                        c.and_then(|c| c["world"]["name"].as_str()).map_or(String::new(), |w| format!(" --world {w}"));
                    format!("reckon generate --seed {seed} --scale {scale}{profile}{world} --out {}", d.display())
                }
                None => format!("# {}: not a generated scenario (no truth/summary.json)", d.display()),
            }
        })
        .collect();
    v.push(train);
    v
}

/// The training section of a model fitted to a state store's decisions: the
/// store, the training window (as the trainer words it), the prior's rows and
/// the labelled rows' sha256.
pub fn from_decisions(state: &std::path::Path, window: &str, prior_rows: usize, data_sha256: &str) -> String {
    format!(
        "The decisions in the state store `{}`, training window: {window}.\n\
Prior: {prior_rows} rows of generated scenarios. Data sha256 (the labelled rows): `{data_sha256}`.",
        state.display()
    )
}
