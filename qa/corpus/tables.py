"""Tables and rosters as readable lines: `组长：韩加政（副市长）`, the group name carried along.

Rosters are laid out in (name, post) column pairs, often two people on a row, a role label
(组 长：) glued to the first name of its block; the label holds down its column until the next.
"""
from __future__ import annotations

import re

from qa.corpus.normalize import squash

_LABEL = re.compile(r"^([\u4e00-\u9fff\s]{1,10}?)\s*[：:]\s*(.*)$")
_NAME = re.compile(r"^[\u4e00-\u9fff·]{2,4}$")
# A short cell ending like a post (副市长, 局长, 主任) is the post of the name before it, not a name.
_POST_END = re.compile(r"(长|员|任|书记|主席|秘书|经理|调研员|专员|巡视员|干部|队长|委员|政委|行长)$")


def split_cells(row: str) -> list[str]:
    if row.strip().startswith("|"):
        cells = row.strip().strip("|").split("|")
    else:
        cells = row.split("\t")
    return [c.strip() for c in cells if c.strip()]


_NAME_AND_POST = re.compile(r"^([\u4e00-\u9fff](?:\s?[\u4e00-\u9fff]){1,3}?)\s+(\S.*)$")


def _person_cell(cell: str) -> tuple[str, str, str] | None:
    """`组 长：韩加政` -> ('组长', '韩加政', ''); `成 员：周 玲 市规划…委员` -> ('成员', '周玲', '市规划…委员');
    `组 长：` -> ('组长', '', ''); a cell that is not a person -> None."""
    m = _LABEL.match(cell)
    label, rest = (squash(m[1]), m[2].strip()) if m else ("", cell.strip())
    if len(label) > 8:
        return None
    if not rest:
        return (label, "", "") if m else None
    if _NAME.match(squash(rest)) and not (not m and _POST_END.search(squash(rest))):
        return label, squash(rest), ""
    both = _NAME_AND_POST.match(rest)
    if both and _NAME.match(squash(both[1])):
        return label, squash(both[1]), both[2].strip()
    return None


def render_row(cells: list[str], labels: dict[int, str]) -> tuple[str, list[str]] | None:
    """Render a roster row; `labels` carries each column pair's current role. None if not a roster row."""
    out: list[str] = []
    persons: list[str] = []
    col, k, pending = 0, 0, ""
    while k < len(cells):
        person = _person_cell(cells[k])
        if person is None:
            return None
        label, name, post = person
        k += 1
        if label:
            labels[col] = label
        if not name:  # a bare `组 长：`: the name is in the next cell
            pending = label
            continue
        if not post and k < len(cells) and _person_cell(cells[k]) is None:
            post = cells[k].strip()
            k += 1
        role = labels.get(col, "") or pending
        entry = f"{name}（{post}）" if post else name
        out.append(f"{role}：{entry}" if role else entry)
        persons.append(name)
        col, pending = col + 1, ""
    return ("；".join(out), persons) if persons else None


def render_table(rows: list[str], group: str, role: str = "") -> list[str]:
    """One readable line per row, prefixed by the group name; non-roster rows as `a，b，c`. `role`: the
    role label in force where the table starts (a table continuing a roster list)."""
    labels: dict[int, str] = {0: role} if role else {}
    rendered = []
    for row in rows:
        cells = split_cells(row)
        roster = render_row(cells, labels)
        body = roster[0] if roster else "，".join(cells)
        rendered.append(f"{group}：{body}" if group else body)
    return rendered


def roster_persons(row: str) -> list[str]:
    roster = render_row(split_cells(row), {})
    return roster[1] if roster else []


def _raw_cells(row: str) -> list[str]:
    """A row's cells in their columns (an empty cell kept)."""
    row = row.strip()
    cells = row.strip("|").split("|") if row.startswith("|") else row.split("\t")
    return [c.strip() for c in cells]


def _header(rows: list[str]) -> list[str] | None:
    """The column labels of a data table (县（区） | 2023 | 2024 | 2025 | 合计): a first row of 3 or more short
    cells, none a role label or a person, with most rows below laid out in its columns."""
    if len(rows) < 2:
        return None
    head = _raw_cells(rows[0])
    if len(head) < 3 or any(not c or len(c) > 12 or _LABEL.match(c) for c in head) or render_row(split_cells(rows[0]), {}):
        return None
    body = [_raw_cells(r) for r in rows[1:]]
    return head if sum(len(b) == len(head) for b in body) * 2 > len(body) else None


_TOTAL = re.compile(r"^(?:总计|合计|小计|全市|总数)")
_VALUE = re.compile(r"-?\d+(?:\.\d+)?")


def extreme_row(table: str, question: str, highest: bool = True) -> str:
    """The label of a data table's row with the highest (lowest) value in the column the question names
    (合计), else in the last column; totals rows left out. "" when the text is no data table."""
    rows = [r for r in table.split("\n") if r.strip()]
    head = _header(rows)
    if not head:
        return ""
    col = next((k for k in range(len(head) - 1, 0, -1) if squash(head[k]) and squash(head[k]) in question), len(head) - 1)
    values: list[tuple[float, str]] = []
    for row in rows[1:]:
        cells = _raw_cells(row)
        m = _VALUE.fullmatch(cells[col].replace(",", "")) if len(cells) == len(head) else None
        if m and cells[0] and not _TOTAL.match(cells[0]):
            values.append((float(m[0]), cells[0]))
    if len(values) < 2:
        return ""
    return (max if highest else min)(values)[1]
