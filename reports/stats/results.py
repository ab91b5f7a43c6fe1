"""The records the rules return, and how each reads as strict JSON (the tracking store) and Markdown
(the report), so the numbers logged and the numbers shown cannot disagree."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from reports.stats.render import fmt, jsonable, md_table


@dataclass
class Pairwise:
    """One candidate against the chosen best, on the confirmation seeds."""

    candidate: str
    test: str
    p_value: float  # one-sided, H1: the candidate is worse than the best
    p_holm: float  # Holm-adjusted across all candidates
    mean_difference: float  # candidate - best, in the metric's units
    ci_low: float  # 95% interval of loss_difference (seeds and items counted)
    ci_high: float
    cliffs_delta: float  # oriented: negative = candidate worse
    cohens_d: float  # oriented, negative = candidate worse; paired: d_z
    significantly_worse: bool
    probability_of_improvement: float = math.nan  # oriented P(candidate > best)
    p_equivalent: float = math.nan  # one-sided, H1: the candidate is worse by less than the margin
    p_equivalent_holm: float = math.nan
    equivalent: bool = False  # shown within the margin of the best (Holm-adjusted p_equivalent < alpha)
    note: str = ""
    loss_difference: float = math.nan  # candidate - best, mean item loss (what the tests are on)
    sources: str = ""  # the variance the tests count: "over 10 seeds and 1,000 test items"
    detectable: float = math.nan  # the loss difference this test detects with 80% power


@dataclass
class Comparison:
    """The winner among candidates, with every number and the rule sentence that chose it."""

    direction: str
    alpha: float
    paired: bool
    summary: pd.DataFrame  # index: candidate, best first; all seeds, plus the confirmation estimate
    omnibus: dict[str, Any] | None  # {"test", "statistic", "p_value", "note"}; None with fewer than 3 candidates
    best: str  # best mean on the selection seeds
    pairwise: list[Pairwise]  # every other candidate against the best, on the confirmation seeds
    winner: str
    rule: str
    margin: float | None = None  # equivalence margin in the metric's units
    n_select: int = 0  # seeds (per candidate) that chose the best
    n_confirm: int = 0  # seeds (per candidate) that tested and estimated; 0: the same seeds did both
    estimate: float = math.nan  # the winner's mean on the confirmation seeds: unbiased by the choice
    detectable: float = math.nan  # smallest loss difference the pairwise tests detect with 80% power
    scores: dict[str, list[float]] = field(default_factory=dict, repr=False)  # what was compared, by candidate
    on_validation: bool = False  # the best was chosen on validation scores (all test seeds judge)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable (strict JSON: nan becomes None); the summary as a list of records."""
        summary = self.summary.rename_axis("candidate").reset_index().to_dict(orient="records")
        return jsonable({"direction": self.direction, "alpha": self.alpha, "paired": self.paired,
                         "summary": summary, "omnibus": self.omnibus, "best": self.best,
                         "pairwise": [asdict(p) for p in self.pairwise], "winner": self.winner, "rule": self.rule,
                         "margin": self.margin, "n_select": self.n_select, "n_confirm": self.n_confirm,
                         "estimate": self.estimate, "detectable_difference": self.detectable,
                         "chosen_on_validation": self.on_validation})

    def to_markdown(self) -> str:
        """A compact Markdown section: summary table, omnibus line, pairwise table, winner and rule."""
        split = ("best chosen on validation scores, tested and estimated on the test set" if self.on_validation
                 else f"best chosen on {self.n_select} seeds, tested and estimated on {self.n_confirm} others"
                 if self.n_confirm else "best chosen, tested and estimated on the same seeds")
        margin = "none" if self.margin is None else fmt(self.margin)
        out = [f"Direction: {self.direction}; {'paired' if self.paired else 'unpaired'} seeds; alpha={self.alpha}; "
               f"{split}; equivalence margin: {margin}; detectable loss difference (80% power): {fmt(self.detectable)}",
               "", self._summary_table(), ""]
        if self.omnibus:
            note = f" ({self.omnibus['note']})" if self.omnibus.get("note") else ""
            out.append(f"Omnibus (descriptive, a rank test of the seed scores: the tests of means below decide): "
                       f"{self.omnibus['test']} statistic={fmt(self.omnibus['statistic'])}, "
                       f"p={fmt(self.omnibus['p_value'])}{note}")
        else:
            out.append("Omnibus: not applicable (fewer than three candidates: the pairwise test decides)")
        out.append("")
        if self.pairwise:
            out.append(f"Pairwise against the best ('{self.best}'): one-sided t-tests of the mean item loss "
                       f"(candidate worse) {self.pairwise[0].sources}, Holm-corrected, alpha={self.alpha}:")
            out.append("")
            out.append(self._pairwise_table())
            out.append("")
        out.append(f"**Winner: {self.winner}** — {self.rule}")
        return "\n".join(out)

    def _summary_table(self) -> str:
        cols = ["mean", "std", "iqm", "iqm_low", "iqm_high", "min", "25%", "50%", "75%", "max", "estimate"]
        if "params" in self.summary:
            cols.append("params")
        rows = []
        for name, r in self.summary.iterrows():
            cells = [name, int(r["count"])]
            for c in cols:
                v = r[c]
                cells.append(fmt(int(v)) if c == "params" and not pd.isna(v) else fmt(v))
            rows.append(cells)
        names = {"iqm": "IQM", "iqm_low": "IQM 95% low", "iqm_high": "IQM 95% high",
                 "estimate": "confirmation mean"}
        return md_table(["candidate", "n"] + [names.get(c, c) for c in cols], rows)

    def _pairwise_table(self) -> str:
        rows = [[p.candidate, p.test + (f" ({p.note})" if p.note else ""), fmt(p.p_value), fmt(p.p_holm),
                 fmt(p.mean_difference), fmt(p.loss_difference), f"[{fmt(p.ci_low)}, {fmt(p.ci_high)}]",
                 fmt(p.cliffs_delta), fmt(p.cohens_d), fmt(p.probability_of_improvement), fmt(p.p_equivalent_holm),
                 "yes" if p.significantly_worse else "no"] for p in self.pairwise]
        return md_table(["candidate", "test", "p", "p (Holm)", "score difference", "loss difference",
                         "95% CI (loss)", "Cliff's delta", "d (paired: d_z)", "P(improvement)",
                         "p equivalent (Holm)", "significantly worse"], rows)


@dataclass
class Decision:
    """Is a challenger significantly better than an incumbent?"""

    better: bool
    test: str
    p_value: float  # one-sided, H1: the challenger is better
    mean_difference: float  # challenger - incumbent, in the metric's units
    ci_low: float  # 95% interval of loss_difference
    ci_high: float
    cliffs_delta: float  # oriented: positive = challenger better
    cohens_d: float  # oriented: positive = challenger better; paired: d_z
    alpha: float = 0.05
    notes: list[str] = field(default_factory=list)
    name: str = ""  # the challenger's name (decide_promotion)
    p_holm: float = math.nan  # Holm-adjusted over every challenger (decide_promotion)
    probability_of_improvement: float = math.nan
    loss_difference: float = math.nan  # challenger - incumbent, mean item loss (negative: challenger better)
    sources: str = ""  # the variance the test counts
    min_effect: float = 0.0  # the smallest improvement of the mean item loss that counts as better

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable (strict JSON: nan becomes None)."""
        return jsonable(asdict(self))


@dataclass
class Promotion:
    """The decision over any number of challengers against one baseline, error held at alpha over all."""

    winner: str | None  # the promoted challenger, None when the baseline stays
    best: str  # the challenger with the best mean (the one kept as challenger when nothing is promoted)
    decisions: list[Decision]  # one per challenger, in the input order
    alpha: float
    rule: str

    @property
    def better(self) -> bool:
        return self.winner is not None

    def decision(self, name: str) -> Decision:
        return next(d for d in self.decisions if d.name == name)

    def to_dict(self) -> dict[str, Any]:
        return jsonable({"winner": self.winner, "best": self.best, "alpha": self.alpha, "rule": self.rule,
                         "decisions": [asdict(d) for d in self.decisions]})

    def to_markdown(self) -> str:
        rows = [[d.name, d.test, fmt(d.p_value), fmt(d.p_holm), fmt(d.mean_difference), fmt(d.loss_difference),
                 f"[{fmt(d.ci_low)}, {fmt(d.ci_high)}]", fmt(d.cohens_d), fmt(d.probability_of_improvement),
                 "yes" if d.better else "no"] for d in self.decisions]
        table = md_table(["challenger", "test", "p", "p (Holm)", "score difference", "loss difference",
                          "95% CI (loss)", "d (paired: d_z)", "P(improvement)", "better"], rows)
        sources = self.decisions[0].sources if self.decisions else ""
        return (f"One-sided t-tests of the mean item loss against the baseline {sources}, Holm over every "
                f"challenger, alpha={self.alpha}:\n\n{table}\n\n**{self.rule}**")
