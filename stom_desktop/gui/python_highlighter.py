"""Python syntax highlighting for the strategy editor (keywords, builtins, strings, comments).

Regular expressions per line plus one block state for triple-quoted strings, which is what
strategy files need (docstrings span lines); no tokenizer run on every keystroke.
"""

from __future__ import annotations

import builtins
import keyword

from PyQt6.QtCore import QRegularExpression
from PyQt6.QtGui import QColor, QFont, QSyntaxHighlighter, QTextCharFormat, QTextDocument

_DARK = {
    "keyword": "#c792ea",
    "builtin": "#82aaff",
    "self": "#f78c6c",
    "number": "#f78c6c",
    "string": "#c3e88d",
    "comment": "#6c7a82",
    "decorator": "#ffcb6b",
    "defname": "#ffcb6b",
}
_LIGHT = {
    "keyword": "#7b1fa2",
    "builtin": "#1565c0",
    "self": "#bf360c",
    "number": "#bf360c",
    "string": "#2e7d32",
    "comment": "#78909c",
    "decorator": "#8d6e00",
    "defname": "#8d6e00",
}
IN_TRIPLE_DOUBLE, IN_TRIPLE_SINGLE = 1, 2


def _fmt(color: str, *, bold: bool = False, italic: bool = False) -> QTextCharFormat:
    fmt = QTextCharFormat()
    fmt.setForeground(QColor(color))
    if bold:
        fmt.setFontWeight(QFont.Weight.Bold)
    fmt.setFontItalic(italic)
    return fmt


class PythonHighlighter(QSyntaxHighlighter):
    """Colours Python source in a QTextDocument; ``theme`` is ``dark`` or ``light``."""

    def __init__(self, document: QTextDocument | None, theme: str = "dark") -> None:
        super().__init__(document)
        self.set_theme(theme, rehighlight=False)

    def set_theme(self, theme: str, *, rehighlight: bool = True) -> None:
        """Switch the colour set (and re-colour the document)."""
        c = _LIGHT if theme == "light" else _DARK
        self.formats = {
            "keyword": _fmt(c["keyword"], bold=True),
            "builtin": _fmt(c["builtin"]),
            "self": _fmt(c["self"], italic=True),
            "number": _fmt(c["number"]),
            "string": _fmt(c["string"]),
            "comment": _fmt(c["comment"], italic=True),
            "decorator": _fmt(c["decorator"]),
            "defname": _fmt(c["defname"], bold=True),
        }
        words = "|".join(keyword.kwlist)
        names = "|".join(n for n in dir(builtins) if not n.startswith("_"))
        # Order matters: later rules paint over earlier ones (strings and comments last).
        self.rules: list[tuple[QRegularExpression, str, int]] = [
            (QRegularExpression(rf"\b({words})\b"), "keyword", 0),
            (QRegularExpression(rf"\b({names})\b(?=\s*\()"), "builtin", 0),
            (QRegularExpression(r"\b(self|cls)\b"), "self", 0),
            (QRegularExpression(r"\b[0-9][0-9_]*(\.[0-9_]*)?([eE][+-]?[0-9]+)?\b"), "number", 0),
            (QRegularExpression(r"^\s*@[\w.]+"), "decorator", 0),
            (QRegularExpression(r"\b(?:def|class)\s+(\w+)"), "defname", 1),
            (QRegularExpression(r"[rbfuRBFU]{0,2}\"[^\"\\]*(\\.[^\"\\]*)*\""), "string", 0),
            (QRegularExpression(r"[rbfuRBFU]{0,2}'[^'\\]*(\\.[^'\\]*)*'"), "string", 0),
            (QRegularExpression(r"#[^\n]*"), "comment", 0),
        ]
        if rehighlight:
            self.rehighlight()

    def highlightBlock(self, text: str | None) -> None:
        text = text or ""
        for pattern, kind, group in self.rules:
            matches = pattern.globalMatch(text)
            while matches.hasNext():
                match = matches.next()
                self.setFormat(
                    match.capturedStart(group), match.capturedLength(group), self.formats[kind]
                )
        self.setCurrentBlockState(0)
        previous = self.previousBlockState()
        for delimiter, state in (('"""', IN_TRIPLE_DOUBLE), ("'''", IN_TRIPLE_SINGLE)):
            if previous == state:
                # inside a string from the line above: close it (which looks for new ones after)
                self._close_string(text, 0, delimiter, state)
                return
        self._open_strings(text, 0)

    def _close_string(self, text: str, start: int, delimiter: str, state: int) -> bool:
        """Colour from ``start`` to the closing ``delimiter``; True if it closes on this line."""
        end = text.find(delimiter, start)
        if end < 0:
            self.setFormat(start, len(text) - start, self.formats["string"])
            self.setCurrentBlockState(state)
            return False
        self.setFormat(start, end + 3 - start, self.formats["string"])
        self._open_strings(text, end + 3)
        return True

    def _open_strings(self, text: str, start: int) -> None:
        """Find a triple-quoted string opening at or after ``start`` (outside comments)."""
        hits = [
            (text.find(d, start), d, s)
            for d, s in (('"""', IN_TRIPLE_DOUBLE), ("'''", IN_TRIPLE_SINGLE))
        ]
        hits = [h for h in hits if h[0] >= 0]
        if not hits:
            return
        pos, delimiter, state = min(hits)
        hash_pos = text.find("#", start)
        if 0 <= hash_pos < pos:
            return
        self._close_string(text, pos + 3, delimiter, state)
        # the opening quotes themselves
        self.setFormat(pos, 3, self.formats["string"])
