//! Rules of the monitoring stages.

use aigis_core::{RuleInfo, Severity};

/// `MON101 data-drift`.
pub static MON101: RuleInfo = RuleInfo {
    id: "MON101",
    name: "data-drift",
    severity: Severity::Medium,
    summary: "A column of the current data is distributed differently from the reference data.",
    doc: "## What it detects\nThe `drift` pipeline stage compared the current table with the reference (`[drift]`), column by column — Kolmogorov-Smirnov for numbers, chi-squared for categories, a two-proportion z-test for rates — and this column's p-value passed the multiple-testing correction and, when `min-effect` is set, its effect size (normed Wasserstein or Jensen-Shannon distance) reached it.\n\n## Why it matters\nA model scores data like its training data. Inputs that drift away from it — a new category, a shifted income, a refusal rate that doubles — degrade accuracy silently, and a sudden shift can be the first sign of poisoned or manipulated inputs.\n\n## Example\n`data/current.csv: column `income` drifted (ks D = 0.145, p = 6.1e-16; wasserstein_normed 0.346)`\n\n## Remediation\nFind out what changed upstream (a new source, a unit change, a broken join). If the change is real and expected, retrain or recalibrate on current data and make the current table the new reference; if it is not, stop the feed. `aigis monitor drift --reference … --current …` prints every column with its effect sizes.\n\n## References\n- Rabanser, Günnemann, Lipton: Failing Loudly, NeurIPS 2019\n- MITRE ATLAS AML.T0020 (Poison Training Data)\n",
    cwe: &[],
};

/// Every rule of this crate.
pub static RULES: &[&RuleInfo] = &[&MON101];

#[cfg(test)]
mod tests {
    #[test]
    fn rule_docs_follow_the_conventions() {
        for r in super::RULES {
            assert!(
                aigis_core::check_rule_doc(r).is_empty(),
                "{}: {:?}",
                r.id,
                aigis_core::check_rule_doc(r)
            );
        }
    }
}
