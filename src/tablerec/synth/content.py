"""Cell text for synthetic tables: labels, headers and numbers that look like PubMed and financial tables.

A cell's content is a list of :class:`Run` (text with inline styles).  The
generators only use ``random.Random`` so a table stays a pure function of its
seed.  Characters a font cannot draw are replaced through ``supported``.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

WORD_LIST = Path("/usr/share/dict/american-english")

# Used when the word list (Debian package wamerican) is missing, and mixed into
# the dictionary words so labels read like biomedical tables.
DOMAIN_WORDS = (
    "age sex gender weight height body mass index patients controls cases group groups treatment placebo "
    "baseline follow-up month months year years week weeks day days score scores total mean median range "
    "level levels serum plasma blood pressure systolic diastolic heart rate glucose insulin cholesterol "
    "triglycerides creatinine albumin hemoglobin platelet count white cell cells protein gene genes "
    "expression mutation variant allele genotype frequency risk ratio odds hazard survival mortality "
    "death hospital admission stay duration dose response time interval model analysis adjusted crude "
    "univariate multivariate sensitivity specificity positive negative predictive value accuracy area "
    "curve sample samples species strain strains isolate isolates resistance susceptibility infection "
    "disease diabetes hypertension cancer tumor stage grade size smoking alcohol education income "
    "married single employed unemployed rural urban primary secondary tertiary school university "
    "children adults elderly women men male female outcome outcomes complication complications "
    "pain fever cough fatigue nausea vomiting headache dizziness bleeding rash therapy surgery "
    "procedure drug drugs medication antibiotic vaccine vaccination dose dosage concentration "
    "activity enzyme receptor binding affinity yield temperature pH volume flow density pressure "
    "soil water plant leaf root seed growth biomass nitrogen carbon phosphorus site sites region "
    "population participants respondents students teachers nurses physicians clinic clinics "
    "intervention control study studies trial trials cohort quality index variable parameter "
    "characteristic characteristics item items domain scale subscale reliability validity"
).split()

FINANCE_WORDS = (
    "revenue revenues net income operating expenses cost costs sales gross profit loss tax taxes "
    "assets liabilities equity cash equivalents receivable payable inventory inventories goodwill "
    "depreciation amortization interest dividend dividends shares share capital reserves retained "
    "earnings deferred current non-current total balance fair value investment investments loans "
    "deposits borrowings debt bonds notes securities derivative hedging foreign exchange rate "
    "credit allowance impairment provision provisions fees commission commissions premium premiums "
    "claims segment segments consolidated subsidiary subsidiaries acquisition disposal property "
    "plant equipment lease leases financing activities operating investing diluted basic weighted "
    "average outstanding ordinary preferred stock compensation pension benefit obligations"
).split()

FALLBACK_WORDS = DOMAIN_WORDS + FINANCE_WORDS

HEADER_WORDS = (
    "Variable Variables Characteristic Characteristics Parameter Parameters Item Items Outcome Factor "
    "Factors Group Groups Category Variable Model Gene Species Sample Site Study Author Country Year "
    "Measure Indicator Domain Subgroup Condition Treatment"
).split()
STAT_HEADERS = (
    "n", "N", "%", "n (%)", "Mean", "SD", "Mean ± SD", "Median", "IQR", "Range", "Min", "Max", "95% CI",
    "OR", "HR", "RR", "aOR", "β", "SE", "<i>P</i> value", "<i>p</i>", "<i>P</i>", "<i>p</i>-value", "Total",
    "Value", "Score", "Estimate", "<i>t</i>", "χ<sup>2</sup>", "<i>F</i>", "<i>r</i>", "<i>R</i><sup>2</sup>",
    "df", "Std.", "Rate", "Cases", "Controls", "Yes", "No", "Before", "After", "Baseline", "Follow-up",
    "Sensitivity", "Specificity", "AUC", "Coefficient", "Weight", "Frequency", "Count", "Ratio",
)
GROUP_HEADERS = (
    "Male", "Female", "Men", "Women", "Cases", "Controls", "Univariate analysis", "Multivariate analysis",
    "Training set", "Validation set", "Test set", "Intervention", "Control", "Placebo", "Treatment group",
    "Control group", "Model 1", "Model 2", "Model 3", "Baseline", "Follow-up", "Pre-test", "Post-test",
    "Unadjusted", "Adjusted", "Crude", "Overall", "Urban", "Rural", "Before treatment", "After treatment",
)
FINANCE_LABELS = (
    "Net income", "Total revenue", "Cash and cash equivalents", "Operating expenses", "Gross profit",
    "Income tax expense", "Total assets", "Total liabilities", "Shareholders' equity", "Retained earnings",
    "Accounts receivable", "Accounts payable", "Depreciation and amortization", "Interest expense",
    "Basic earnings per share", "Diluted earnings per share", "Weighted-average shares outstanding",
    "Effect of dilutive securities", "Long-term debt", "Deferred tax assets", "Goodwill", "Inventories",
    "Property, plant and equipment", "Other comprehensive income", "Dividends paid", "Net cash from operating activities",
)
FINANCE_HEADERS = (
    "2019", "2018", "2017", "2016", "2015", "2014", "Note", "Notes", "HK$'000", "RMB'000", "US$ million",
    "$ in thousands", "Amount", "Change", "% change", "Carrying amount", "Fair value", "Level 1", "Level 2",
    "Level 3", "Total", "Three months ended", "Year ended December 31,", "As at 31 December",
)
SECTION_WORDS = (
    "Demographics", "Clinical characteristics", "Laboratory findings", "Outcomes", "Comorbidities",
    "Medications", "Symptoms", "Treatment", "Primary outcome", "Secondary outcomes", "Adverse events",
    "Socio-demographic", "Education", "Marital status", "Smoking status", "Region", "Sex", "Age group",
    "Whole country", "Urban", "Rural", "Current assets", "Non-current assets", "Current liabilities",
    "Operating activities", "Investing activities", "Financing activities",
)
CATEGORIES = ("Yes", "No", "Male", "Female", "+", "−", "NA", "NR", "ND", "n.s.", "High", "Low", "Moderate",
              "Present", "Absent", "Positive", "Negative", "None", "Mild", "Severe", "✓")
GREEK = "αβγδεκλμσωΔ"
UNITS = ("mg", "mg/dL", "mmol/L", "µg/ml", "ng/mL", "pg/ml", "kg", "kg/m<sup>2</sup>", "cm", "mm", "%", "°C",
         "mmHg", "bpm", "IU/L", "U/L", "g/L", "years", "months", "days", "h", "min", "s", "mL", "µm", "nm",
         "µM", "mM", "Hz", "kDa", "bp")
MISSING = ("–", "-", "—", "NA", "n/a", "ND", "NR", "0")
FOOTNOTE_MARKS = ("a", "b", "c", "d", "*", "**", "†", "‡", "§", "1", "2")

# Chinese financial tables (SynthConfig.chinese_probability): characters common in annual reports, drawn at
# random into "words" (the text means nothing; the reader has no Chinese vocabulary, so what matters is how
# it looks: dense square glyphs with no spaces, wrapping anywhere).
HANZI = "".join(dict.fromkeys(
    "公司集团有限股份银行资产负债收入利润成本费用现金流量投资融资经营业务管理财务报告年度期末期初本上合计其中项目"
    "金额比例增减变动情况说明注释附应收账款预付存货固定无形长短借职工薪酬税所得递延权益实分配归属于母少数净营外"
    "支出销售研发利息汇兑损减值准备提转回核坏处置子联合企市场价评估审会政策重要事承诺担保诉讼关方交易控人董监高级"
    "员名称类型限时间履行是否及严格未完成原因下一步计划适用不发债券简起息日到募集途抵质押信府境内人民币美元港万亿"
    "千单位每基本稀释率增长同比环季半第二三四五六七八九十百零左右前后大小多少新旧主他以及或者和与的在为对从按由根"
    "据通过进包括但没可能够应当必须已经将需保证地区省市县城镇农村产品服务技术工程建设项目土房屋设备器材料能源电力"
))
ZH_HEADERS = ("项目", "本期金额", "上期金额", "期末余额", "期初余额", "本年发生额", "上年发生额", "合计", "备注",
              "金额", "比例", "附注", "单位：元", "单位：万元", "账面价值", "增减变动", "承诺方", "履行情况")
ZH_CATEGORIES = ("是", "否", "不适用", "无", "有", "已履行", "正在履行", "信用", "抵押", "质押", "—")


@dataclass(frozen=True)
class Run:
    """A piece of cell text with its inline styles (``script`` is "", "sup" or "sub")."""

    text: str
    bold: bool = False
    italic: bool = False
    script: str = ""


def runs_to_tokens(runs: list[Run], bold: bool = False, italic: bool = False) -> list[str]:
    """PubTabNet cell tokens: characters, inline tags as single tokens; whole-cell bold/italic outermost."""
    tokens: list[str] = []
    outer = (["b"] if bold else []) + (["i"] if italic else [])
    tokens += [f"<{t}>" for t in outer]
    for run in runs:
        tags = []
        if run.bold and not bold:
            tags.append("b")
        if run.italic and not italic:
            tags.append("i")
        if run.script:
            tags.append(run.script)
        tokens += [f"<{t}>" for t in tags]
        tokens += list(run.text)
        tokens += [f"</{t}>" for t in reversed(tags)]
    tokens += [f"</{t}>" for t in reversed(outer)]
    return tokens


def parse_markup(text: str) -> list[Run]:
    """Tiny parser for the vocabulary above: ``<i>P</i> value`` -> runs.  No nesting needed."""
    runs: list[Run] = []
    style = {"i": False, "b": False, "sup": False, "sub": False}
    buf = ""
    i = 0
    while i < len(text):
        if text[i] == "<":
            end = text.index(">", i)
            tag = text[i + 1:end]
            if buf:
                runs.append(_run(buf, style))
                buf = ""
            name = tag.lstrip("/")
            style[name] = not tag.startswith("/")
            i = end + 1
        else:
            buf += text[i]
            i += 1
    if buf:
        runs.append(_run(buf, style))
    return runs


def _run(text: str, style: dict[str, bool]) -> Run:
    script = "sup" if style["sup"] else "sub" if style["sub"] else ""
    return Run(text, bold=style["b"], italic=style["i"], script=script)


# Dictionary words kept out of generated tables (they end up in docs and sample grids).
_BLOCKED_STEMS = ("fuck", "shit", "cunt", "nigg", "fag", "whore", "slut", "bitch", "porn", "rape", "dick",
                  "cock", "pussy", "bastard", "retard", "kike", "spic", "chink", "dyke", "twat", "wank", "piss",
                  "boob", "tits", "nazi", "hitler", "negro", "coon", "gook", "wetback", "homo", "lesbo")


@lru_cache(maxsize=1)
def vocabulary() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(lower-case words, capitalised words) from the system word list, or the built-in list."""
    lower: list[str] = []
    capital: list[str] = []
    blocked = re.compile("|".join(_BLOCKED_STEMS)).search
    try:
        with open(WORD_LIST, encoding="utf-8", errors="ignore") as f:
            for line in f:
                word = line.strip()
                if 2 <= len(word) <= 12 and word.isascii() and word.isalpha() and not blocked(word.lower()):
                    (capital if word[0].isupper() else lower).append(word)
    except OSError:
        pass
    if len(lower) < 1000:  # no usable word list: the built-in vocabulary is enough for tables
        lower = list(FALLBACK_WORDS)
        capital = [w.capitalize() for w in FALLBACK_WORDS]
    return tuple(lower), tuple(capital)


def uses_built_in_words() -> bool:
    """True if the word list was missing or unusable and ``vocabulary`` fell back to the built-in words."""
    return vocabulary()[0] == tuple(FALLBACK_WORDS)


Supported = Callable[[str], bool]


class ContentMaker:
    """Draws cell contents for one table, with per-column number formats kept consistent."""

    def __init__(self, rng: random.Random, supported: Supported, finance: bool = False, max_cell_chars: int = 80,
                 more_kinds: bool = False, chinese: bool = False):
        self.rng = rng
        self.chinese = chinese  # text in Chinese (SynthConfig.chinese_probability); figures stay as they are
        self.more_kinds = more_kinds  # SynthConfig.more_text_kinds
        self.supported = supported
        self.finance = finance
        self.max_cell_chars = max_cell_chars
        self.lower, self.capital = vocabulary()
        # Table-wide typography habits.
        self.en_dash = "–" if rng.random() < 0.7 else "-"
        self.minus = "−" if rng.random() < 0.4 else "-"
        self.decimal_comma = rng.random() < 0.04
        self.ci_style = rng.choice(["paren", "paren", "bracket", "to", "dash", "comma"])
        self.currency = rng.choice(CURRENCIES)  # one currency per table

    # ---- words -----------------------------------------------------------------
    def word(self) -> str:
        r = self.rng.random()
        if self.finance and r < 0.5:
            return self.rng.choice(FINANCE_WORDS)
        if r < 0.55:
            return self.rng.choice(DOMAIN_WORDS)
        if r < 0.93:
            return self.rng.choice(self.lower)
        return self.rng.choice(self.capital)

    def phrase(self, n_words: int, capitalise: bool = True) -> str:
        words = [self.word() for _ in range(n_words)]
        text = " ".join(words)
        if capitalise:
            text = text[0].upper() + text[1:]
        return text

    def clean(self, runs: list[Run], max_chars: int | None = None) -> list[Run]:
        """Replace characters the table's font cannot draw and cut text over ``max_chars`` (default: max_cell_chars)."""
        out: list[Run] = []
        budget = max_chars or self.max_cell_chars
        for run in runs:
            text = run.text
            if not text.isascii():
                text = "".join(ch if ch.isascii() or self.supported(ch) else _ASCII_FALLBACK.get(ch, "") for ch in text)
                text = "".join(ch for ch in text if ch.isascii() or self.supported(ch))
            if budget <= 0:
                break
            if len(text) > budget:
                # Cut at a word boundary when there is one, so labels do not end in half a word.
                cut = text.rfind(" ", 0, budget + 1)
                text = text[:cut] if cut > 0 else text[:budget]
                budget = 0
            budget -= len(text)
            if text:
                out.append(Run(text, run.bold, run.italic, run.script))
        # A cell must not start or end with a run of spaces only (nothing to draw, nothing to box).
        while out and not out[-1].text.strip():
            out.pop()
        while out and not out[0].text.strip():
            out.pop(0)
        if out:
            out[-1] = Run(out[-1].text.rstrip(), out[-1].bold, out[-1].italic, out[-1].script)
        return out

    # ---- cells -----------------------------------------------------------------
    def label(self, max_words: int = 5) -> list[Run]:
        if self.chinese:
            return self._zh_label()
        rng = self.rng
        if self.finance and rng.random() < 0.35:
            return [Run(rng.choice(FINANCE_LABELS))]
        n = min(max_words, rng.choice((1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 4, 5, 7)))
        text = self.phrase(max(1, n))
        r = rng.random()
        if r < 0.12:
            return parse_markup(f"{text} ({rng.choice(UNITS)})")
        if r < 0.18:
            return [Run(f"{text}, n (%)")]
        if r < 0.23:
            return [Run(text), Run(rng.choice(FOOTNOTE_MARKS), script="sup")]
        if r < 0.27:
            return [Run(f"{rng.choice(GREEK)}-{self.word()}")]
        if r < 0.30:
            return [Run(text + " "), Run(self.phrase(1, False), italic=True)]
        if r < 0.34:
            return [Run(f"{rng.randint(1, 9)}. {text}")]
        if r < 0.38:
            lo = rng.randint(10, 70)
            return [Run(f"{lo}{self.en_dash}{lo + rng.choice((4, 9, 10, 14))}")]
        if r < 0.42:
            return [Run(_gene_name(rng))]
        if self.more_kinds and r < 0.45:
            return [Run(self.code())]
        if self.more_kinds and r < 0.48:  # age bands and thresholds: "≤69", "> 4 cm"
            sign = rng.choice(("≤", "≥", "<", ">"))
            unit = rng.choice(("", "", "", " cm", " years", " mm", " %"))
            return [Run(f"{sign}{rng.choice(('', ' '))}{rng.randint(1, 99)}{unit}")]
        return [Run(text)]

    def header(self, leaf: bool) -> list[Run]:
        if self.chinese:
            return self._zh_header(leaf)
        rng = self.rng
        if self.finance:
            pool = FINANCE_HEADERS if rng.random() < 0.6 else None
            if pool:
                return parse_markup(rng.choice(pool))
            return [Run(self.phrase(rng.randint(1, 6)))]
        r = rng.random()
        if leaf and r < 0.5:
            text = rng.choice(STAT_HEADERS)
            if rng.random() < 0.15:
                text += f" (n = {rng.randint(10, 999)})"
            return parse_markup(text)
        if not leaf and r < 0.45:
            text = rng.choice(GROUP_HEADERS)
            if rng.random() < 0.3:
                text += f" (n = {rng.randint(10, 999)})"
            return [Run(text)]
        if r < 0.65:
            return [Run(self.phrase(rng.randint(1, 4)))]
        if r < 0.75:
            return [Run(f"{self.phrase(rng.randint(1, 3))} ({rng.choice(UNITS).replace('<sup>2</sup>', '²')})")]
        return [Run(self.phrase(rng.randint(1, 2)))]

    def first_header(self) -> list[Run]:
        if self.chinese:
            return self._zh_first_header()
        if self.finance:
            return [Run(self.phrase(self.rng.randint(1, 3)))]
        return [Run(self.rng.choice(HEADER_WORDS))] if self.rng.random() < 0.7 else [Run(self.phrase(2))]

    def section(self) -> list[Run]:
        if self.chinese:
            return self._zh_section()
        if self.rng.random() < 0.5:
            return [Run(self.rng.choice(SECTION_WORDS))]
        text = self.phrase(self.rng.randint(1, 5))
        if self.rng.random() < 0.2:
            text += ":"
        return [Run(text)]

    def text_value(self) -> list[Run]:
        if self.chinese:
            return self._zh_text_value()
        rng = self.rng
        r = rng.random()
        if r < 0.35:
            return [Run(self.category())]
        if self.more_kinds and r < 0.43:
            return [Run(self.code())]
        if r < 0.45:
            return [Run(_gene_name(rng))]
        if r < 0.5:
            return [Run("".join(rng.choice("ACGT") for _ in range(rng.randint(15, 24))))]
        return [Run(self.phrase(rng.choice((1, 1, 1, 2, 2, 3, 4, 7)), capitalise=rng.random() < 0.7))]

    def category(self) -> str:
        text = self.rng.choice(CATEGORIES)
        if self.more_kinds and self.rng.random() < 0.3:
            return text.lower()  # "yes", "no", "none", as often set
        return text

    def code(self) -> str:
        """A string with no language in it (sample ids, codes, grades: "IG-T", "abcd", "T4a", "5/12b"): the
        reader must look at every character instead of guessing the next from the ones before."""
        rng = self.rng
        pools = (_LOWER, _UPPER, _DIGITS, _LOWER + _DIGITS, _UPPER + _DIGITS, _LOWER + _UPPER + _DIGITS + _CODE_PUNCT)
        pool = rng.choice(pools)
        return "".join(rng.choice(pool) for _ in range(rng.randint(1, 10)))

    def prose(self, max_chars: int) -> list[Run]:
        """Sentences of running text, up to about ``max_chars`` characters (cut later at a word boundary)."""
        if self.chinese:
            return self._zh_prose(max_chars)
        rng = self.rng
        target = rng.randint(min(60, max_chars), max_chars)
        sentences: list[str] = []
        length = 0
        bullets = rng.random() < 0.25  # "- first measure; - second measure" lists, as in policy tables
        while length < target:
            text = self.phrase(rng.randint(4, 14))
            r = rng.random()
            if r < 0.15:
                text += f" ({self.phrase(rng.randint(1, 3), capitalise=False)})"
            elif r < 0.25:
                text += f" in {rng.randint(1995, 2025)}"
            elif r < 0.32:
                text += f" of {rng.randint(2, 95)}%"
            text = ("- " if bullets else "") + text + (";" if bullets else ".")
            sentences.append(text)
            length += len(text) + 1
        return [Run(" ".join(sentences))]

    # ---- Chinese ---------------------------------------------------------------
    def zh_phrase(self, lo: int, hi: int) -> str:
        return "".join(self.rng.choice(HANZI) for _ in range(self.rng.randint(lo, hi)))

    def _zh_label(self) -> list[Run]:
        rng = self.rng
        r = rng.random()
        text = self.zh_phrase(2, 12)
        if r < 0.15:
            return [Run(f"{rng.choice('一二三四五六七八九十')}、{text}")]
        if r < 0.25:
            return [Run(f"{text}（{self.zh_phrase(2, 6)}）")]
        if r < 0.3:
            return [Run(text + "：")]
        if r < 0.35:
            return [Run(text), Run(rng.choice(FOOTNOTE_MARKS), script="sup")]
        return [Run(text)]

    def _zh_header(self, leaf: bool) -> list[Run]:
        rng = self.rng
        r = rng.random()
        if r < 0.3:
            return [Run(rng.choice(ZH_HEADERS))]
        if r < 0.45:
            year = rng.randint(2010, 2020)
            return [Run(rng.choice((f"{year}年", f"{year}年12月31日", f"{year}年6月30日", f"{year}年度")))]
        return [Run(self.zh_phrase(2, 10 if leaf else 8))]

    def _zh_first_header(self) -> list[Run]:
        return [Run("项目" if self.rng.random() < 0.5 else self.zh_phrase(2, 6))]

    def _zh_section(self) -> list[Run]:
        return [Run(self.zh_phrase(2, 8) + ("：" if self.rng.random() < 0.3 else ""))]

    def _zh_text_value(self) -> list[Run]:
        rng = self.rng
        if rng.random() < 0.4:
            return [Run(rng.choice(ZH_CATEGORIES))]
        if rng.random() < 0.2:
            return [Run(f"{rng.randint(2010, 2020)}/{rng.randint(1, 12)}/{rng.randint(1, 28)}")]
        return [Run(self.zh_phrase(2, 16))]

    def _zh_prose(self, max_chars: int) -> list[Run]:
        """Clauses parted by "，" into sentences ending "。", sometimes numbered "1、" as in undertakings."""
        rng = self.rng
        target = rng.randint(min(30, max_chars), max_chars // 2)  # each character is about two letters wide
        numbered = rng.random() < 0.3
        text = ""
        k = 0
        while len(text) < target:
            k += 1
            clauses = "，".join(self.zh_phrase(4, 14) for _ in range(rng.randint(1, 4)))
            text += (f"{k}、" if numbered else "") + clauses + "。"
        return [Run(text)]


def _gene_name(rng: random.Random) -> str:
    letters = "".join(rng.choice("ABCDEFGHIKLMNPRSTVWXYZ") for _ in range(rng.randint(2, 4)))
    return f"{letters}{rng.randint(1, 20)}" + (rng.choice(("", "A", "B", "-1", "α")) if rng.random() < 0.4 else "")


_LOWER, _UPPER, _DIGITS, _CODE_PUNCT = "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789", "-./()+:,%*#"


# Replacements for symbols a font lacks, so a cell never shows a missing-glyph box.
_ASCII_FALLBACK = {
    "−": "-", "–": "-", "—": "-", "≤": "<", "≥": ">", "±": "+", "µ": "u", "°": "o", "✓": "+", "†": "+",
    "‡": "+", "§": "S", "χ": "x", "²": "2", "·": ".", "∼": "~", "×": "x", "′": "'",
}


# ---- numbers -------------------------------------------------------------------------

NUMBER_KINDS = ("int", "decimal", "percent", "n_pct", "mean_sd", "pm", "ci", "estimate_ci", "range", "pvalue",
                "sci", "unit", "date", "category", "missing_heavy", "money_decimal")
CURRENCIES = ("$", "$", "$", "US$", "€", "£", "¥", "HK$", "RMB ", "USD ")
FINANCE_KINDS = ("money", "money", "money", "money_decimal", "percent", "int")


@dataclass
class NumberFormat:
    """One column's number habits: kind, magnitude, decimals."""

    kind: str
    magnitude: float
    decimals: int
    thousands: bool
    star_rate: float
    currency: str = ""  # prefix for money values
    currency_rate: float = 0.0  # share of cells that show it (statements often show it on the first and total rows)


def number_format(rng: random.Random, finance: bool, currency: str = "$") -> NumberFormat:
    kind = rng.choice(FINANCE_KINDS) if finance else rng.choices(
        NUMBER_KINDS, weights=(14, 14, 8, 8, 6, 6, 4, 5, 3, 7, 2, 2, 1, 4, 1, 1))[0]
    magnitude = 10 ** rng.uniform(0, 3.5) if not finance else 10 ** rng.uniform(2, 7)
    currency_rate = 0.0
    if kind.startswith("money") and rng.random() < (0.5 if finance else 0.8):
        currency_rate = rng.choice((0.15, 1.0))
    else:
        currency = ""
    return NumberFormat(kind, magnitude, rng.choice((0, 1, 1, 2, 2, 2, 3)), rng.random() < 0.7,
                        rng.choice((0.0, 0.0, 0.05, 0.2)), currency, currency_rate)


def format_number(maker: ContentMaker, fmt: NumberFormat) -> list[Run]:
    rng = maker.rng
    d = fmt.decimals

    def num(scale: float = 1.0, decimals: int = d, signed: bool = False) -> str:
        value = rng.uniform(0.02, 1.0) * fmt.magnitude * scale
        if value < 10:
            decimals = max(decimals, 1)
        text = f"{value:,.{decimals}f}" if fmt.thousands else f"{value:.{decimals}f}"
        if signed and rng.random() < 0.2 and text.strip("0.,"):  # never "-0" or "-0.00"
            text = "-" + text
        if maker.decimal_comma:
            text = text.replace(",", " ").replace(".", ",")
        return text.replace("-", maker.minus)

    dash = maker.en_dash
    kind = fmt.kind
    if kind == "int":
        value = rng.randint(0, int(fmt.magnitude) + 1)
        text = f"{value:,}" if fmt.thousands else str(value)
        if rng.random() < 0.05:
            text = maker.minus + text
    elif kind == "decimal":
        text = num(signed=True)
    elif kind == "percent":
        text = f"{rng.uniform(0, 100):.{min(d, 2)}f}" + ("%" if rng.random() < 0.8 else "")
    elif kind == "n_pct":
        text = f"{rng.randint(0, 999)} ({rng.uniform(0, 100):.{min(d, 1)}f}{'%' if rng.random() < 0.5 else ''})"
    elif kind == "mean_sd":
        text = f"{num()} ({num(0.3)})"
    elif kind == "pm":
        text = f"{num()} ± {num(0.3)}"
    elif kind in ("ci", "estimate_ci"):
        lo = rng.uniform(0, 3)
        hi = lo + rng.uniform(0.1, 4)
        est = (lo + hi) / 2
        dd = max(d, 1)
        inner = {"paren": f"({lo:.{dd}f}{dash}{hi:.{dd}f})", "bracket": f"[{lo:.{dd}f}, {hi:.{dd}f}]",
                 "to": f"{lo:.{dd}f} to {hi:.{dd}f}", "dash": f"{lo:.{dd}f}{dash}{hi:.{dd}f}",
                 "comma": f"({lo:.{dd}f}, {hi:.{dd}f})"}[maker.ci_style]
        text = f"{est:.{dd}f} {inner}" if kind == "estimate_ci" else inner
    elif kind == "range":
        lo = rng.randint(0, int(fmt.magnitude) + 1)
        text = f"{lo}{dash}{lo + rng.randint(1, int(fmt.magnitude) + 5)}"
    elif kind == "pvalue":
        r = rng.random()
        text = "<0.001" if r < 0.25 else "< 0.0001" if r < 0.3 else f"{rng.uniform(0, 1):.3f}" if r < 0.8 else f"{rng.uniform(0, 1):.2f}"
    elif kind == "sci":
        mant = f"{rng.uniform(1, 9.99):.{max(d, 1)}f}"
        if maker.decimal_comma and maker.more_kinds:
            mant = mant.replace(".", ",")
        if rng.random() < 0.5:
            text = f"{mant}E-{rng.randint(2, 12):02d}"
        else:
            return [Run(f"{mant} × 10"), Run(f"{maker.minus}{rng.randint(2, 12)}", script="sup")]
    elif kind == "unit":
        return parse_markup(f"{num()} {rng.choice(UNITS)}")
    elif kind == "date":
        y, m, dd = rng.randint(1990, 2020), rng.randint(1, 12), rng.randint(1, 28)
        formats = [f"{y}/{m:02d}/{dd:02d}", f"{dd:02d}/{m:02d}/{y}", f"{dd} {_MONTHS[m - 1]} {y}", str(y)]
        if maker.more_kinds:
            formats.append(f"{m:02d}/{dd:02d}/{y}")
        text = rng.choice(formats)
    elif kind == "category":
        text = maker.category()
    elif kind in ("money", "money_decimal"):
        value = rng.uniform(0, fmt.magnitude)
        text = f"{value:,.0f}" if kind == "money" else f"{value:,.2f}"
        if fmt.currency and rng.random() < fmt.currency_rate:
            text = fmt.currency + text
        if rng.random() < 0.12:
            text = f"({text})"
        elif rng.random() < 0.04:
            text = rng.choice(("—", "–", "-", "nil"))
    else:  # "missing_heavy": mostly dashes, sometimes a number
        text = rng.choice(MISSING) if rng.random() < 0.6 else num()
    runs = [Run(text)]
    if fmt.star_rate and rng.random() < fmt.star_rate:
        runs.append(Run(rng.choice(FOOTNOTE_MARKS), script="sup") if rng.random() < 0.6 else Run(rng.choice(("*", "**", "***"))))
    return runs


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
