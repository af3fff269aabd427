"""The list of findings on the insights screen, most severe first, one option per finding.

Fed plain `Finding`s (`set_findings`); keeps the highlight on the same finding (by key) when the
list is refreshed. `enter` on a finding posts `InsightsList.FindingChosen`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from capture.insights import Finding
from capture.insights.text import count
from widgets.text import safe_text

SEVERITY_LABELS = {"alert": " ALERT ", "warning": " WARN  ", "info": " info  "}


class InsightsList(OptionList):
    """Findings as options: severity badge, kind and subject, then the explanation."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "insights-list--alert",
        "insights-list--warning",
        "insights-list--info",
        "insights-list--evidence",
    }

    DEFAULT_CSS = """
    InsightsList { height: 1fr; }
    InsightsList > .insights-list--alert { color: $text; background: $error; text-style: bold; }
    InsightsList > .insights-list--warning { color: $text; background: $warning 70%; }
    InsightsList > .insights-list--info { color: $text; background: $primary 40%; }
    InsightsList > .insights-list--evidence { color: $text-muted; }
    """

    class FindingChosen(Message):
        """`enter` (or a click) on a finding."""

        def __init__(self, finding: Finding) -> None:
            super().__init__()
            self.finding = finding

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.findings: list[Finding] = []
        self._signature: tuple[Any, ...] = ()

    def set_findings(self, findings: list[Finding]) -> None:
        """Show `findings`; the highlight stays on the same finding if it is still there."""
        signature = tuple((f.key, f.severity, f.explanation, len(f.flow_ids)) for f in findings)
        if signature == self._signature:
            return
        self._signature = signature
        current = self.highlighted_finding()
        self.findings = list(findings)
        self.clear_options()
        self.add_options([Option(self.prompt(f), id=f.key) for f in findings])
        keys = [f.key for f in findings]
        if current is not None and current.key in keys:
            self.highlighted = keys.index(current.key)
        elif findings:
            self.highlighted = 0

    def highlighted_finding(self) -> Finding | None:
        """The finding under the cursor, if any."""
        index = self.highlighted
        if index is None or not 0 <= index < len(self.findings):
            return None
        return self.findings[index]

    def prompt(self, finding: Finding) -> Text:
        """One finding's option: a badge, the kind and subject, the sentence, the evidence."""
        badge_style = self.get_component_rich_style(f"insights-list--{finding.severity}")
        evidence_style = self.get_component_rich_style("insights-list--evidence", partial=True)
        evidence_style += Style(dim=True)
        text = Text(no_wrap=False, end="")
        text.append(SEVERITY_LABELS.get(finding.severity, finding.severity), style=badge_style)
        text.append(" ")
        text.append_text(safe_text(f"{finding.kind.replace('_', ' ')}  {finding.subject}", "bold"))
        text.append("\n")
        text.append_text(safe_text(finding.explanation))
        text.append("\n")
        text.append_text(safe_text(evidence_line(finding), evidence_style))
        return text

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if 0 <= event.option_index < len(self.findings):
            self.post_message(self.FindingChosen(self.findings[event.option_index]))


def evidence_line(finding: Finding) -> str:
    """`12 flows (ids 3, 7 ...) · frames 1, 2 ... · rate=4.2 ...`, cut to a sensible length."""
    total = finding.numbers.get("flows", len(finding.flow_ids))
    ids = ", ".join(str(i) for i in finding.flow_ids[:8])
    more = " ..." if total > 8 else ""
    parts = [f"{count(total, 'flow')}: {ids}{more}"]
    if finding.frames:
        frames = ", ".join(str(n) for n in finding.frames[:6])
        parts.append(f"frames {frames}" + (" ..." if len(finding.frames) > 6 else ""))
    nums = [
        f"{k}={_short(v)}"
        for k, v in finding.numbers.items()
        if k != "flows" and v not in (None, [], {})
    ]
    if nums:
        parts.append(" ".join(nums[:6]))
    return " · ".join(parts)


def _short(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, tuple) and len(v) == 2:
        return f"{v[0]} ({_short(v[1])})"
    if isinstance(v, list):
        return "[" + ", ".join(_short(x) for x in v[:6]) + (", …]" if len(v) > 6 else "]")
    return str(v)
