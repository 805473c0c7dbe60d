//! Rules of the robustness gates (`aigis rules ROB101`).

use aigis_core::{RuleInfo, Severity};

/// `ROB101 robust-accuracy-below-gate`.
pub static ROB101: RuleInfo = RuleInfo {
    id: "ROB101",
    name: "robust-accuracy-below-gate",
    severity: Severity::High,
    summary: "The model's accuracy under the configured attack is below `[robust] min-robust-accuracy`.",
    doc: "## What it detects\nThe `robust` pipeline stage ran the configured white-box attack (FGSM or PGD, L-inf or L2, at `eps`) on the project's ONNX classifier and test data, and the share of samples still classified correctly is below `min-robust-accuracy`.\n\n## Why it matters\nSmall, crafted input changes flip the model's decisions: fraud, content and malware classifiers can be evaded on purpose. A release gate on robust accuracy stops a model that is easier to fool than the last one from shipping.\n\n## Example\n`models/classifier.onnx: robust accuracy 0.32 under pgd eps=0.1 (gate 0.40)`\n\n## Remediation\nHarden the model with adversarial training, add input preprocessing that removes perturbations, or lower `eps` to the threat model you actually face and document why.\n\n## References\n- Madry et al., Towards Deep Learning Models Resistant to Adversarial Attacks, 2018\n- MITRE ATLAS AML.T0043 Craft Adversarial Data\n- RobustBench\n",
    cwe: &[],
};

/// `ROB102 clean-accuracy-below-gate`.
pub static ROB102: RuleInfo = RuleInfo {
    id: "ROB102",
    name: "clean-accuracy-below-gate",
    severity: Severity::Medium,
    summary: "The model's accuracy on the unperturbed test data is below `[robust] min-clean-accuracy`.",
    doc: "## What it detects\nThe share of the project's test samples the ONNX classifier labels correctly, before any attack, is below `min-clean-accuracy`.\n\n## Why it matters\nA model that lost accuracy (a bad retrain, the wrong weights, a tampered file) should not ship; robustness figures of a model that is wrong anyway mean little.\n\n## Example\n`models/classifier.onnx: clean accuracy 0.81 (gate 0.90)`\n\n## Remediation\nCheck that the file is the intended model (`aigis verify`, `aigis fingerprint --check`), and retrain or restore it.\n\n## References\n- MITRE ATLAS AML.T0031 Erode AI Model Integrity\n",
    cwe: &[],
};

/// `ROB103 model-behaviour-changed`.
pub static ROB103: RuleInfo = RuleInfo {
    id: "ROB103",
    name: "model-behaviour-changed",
    severity: Severity::High,
    summary: "The model no longer answers its fingerprint's canary inputs the way it did.",
    doc: "## What it detects\nThe `verify` stage compared an ONNX model with the behavioural fingerprint in `[verify] fingerprints` (`aigis fingerprint -o`): its decisions on the seeded canaries and probes differ, or a quantised probability moved by more than one step (1/65535). The finding gives the decision agreement and the largest probability change.\n\n## Why it matters\nA backdoored fine-tune, a poisoned retrain or a swapped weight file can be signed again and pass every signature check; its behaviour on the canaries still shows the change.\n\n## Example\n`models/classifier.onnx: decisions agree on 98.4% of 1052 inputs (17 changed), largest probability change 0.93`\n\n## Remediation\nFind out why the model changed (registry history, transparency log, training run); if the change is intended, take a new fingerprint with `aigis fingerprint -o` and review it like any release.\n\n## References\n- MITRE ATLAS AML.T0018 Manipulate AI Model, AML.T0031 Erode AI Model Integrity\n",
    cwe: &[494],
};

/// `ROB104 gradient-masking`.
pub static ROB104: RuleInfo = RuleInfo {
    id: "ROB104",
    name: "gradient-masking",
    severity: Severity::Medium,
    summary: "Black-box attacks fooled the model on samples every white-box attack left alone: its gradients mislead, and white-box robustness figures overstate it.",
    doc: "## What it detects\nThe `robust` stage ran white-box attacks (FGSM, PGD, APGD-CE) and black-box attacks (Square, HopSkipJump) on the same samples, and the black-box ones flipped at least 5% of the samples that no PGD or APGD attack flipped.\n\n## Why it matters\nA model whose gradients are flat, saturated, noisy or shattered (a softmax pushed to 0/1, non-differentiable preprocessing, randomness) defeats gradient-based attacks without being robust: an attacker who does not use gradients still fools it. Robust accuracy measured by white-box attacks alone is then too high. Athalye et al. showed most defences of 2017-2018 were this.\n\n## Example\n`models/classifier.onnx: possible gradient masking at eps=0.1: black-box attacks flipped 365 samples (67.6%) that no white-box attack did`\n\n## Remediation\nTrust the worst case over all attacks, not the white-box figure. Look for saturating outputs (scale the logits back), non-differentiable steps in the graph, or a defence that only hides gradients; evaluate with `attack = \"auto\"` and more black-box queries.\n\n## References\n- Athalye, Carlini & Wagner, Obfuscated Gradients Give a False Sense of Security, 2018\n- Croce & Hein, Reliable evaluation of adversarial robustness with an ensemble of diverse parameter-free attacks (AutoAttack), 2020\n- MITRE ATLAS AML.T0043 Craft Adversarial Data\n",
    cwe: &[],
};

/// Every robustness rule, sorted by id.
pub static RULES: &[&RuleInfo] = &[&ROB101, &ROB102, &ROB103, &ROB104];
