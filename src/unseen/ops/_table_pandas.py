"""The pandas part of the vocabulary: functions of ``pandas`` and the methods and properties of
the ``dataframe``, ``series``, ``index`` and ``groupby`` families (indexers have only ``[]``).

Never listed: ``inplace=``, ``key=`` (a callable), ``regex=``, ``engine=``, I/O (``to_*`` and
``read_*``), ``query``/``eval``, ``apply``/``map``/``pipe``. String aggregations (``agg``,
``transform``, ``pivot_table``'s ``aggfunc``) are checked against an allowlist, because pandas
looks such strings up as attributes.
"""

from __future__ import annotations

from unseen.ops._spec import OpSpec, block

__all__ = ["pandas_specs"]

PD = "pandas"
FRAMES = ("dataframe", "series")

_AGGREGATES = """
sum prod : | axis skipna numeric_only min_count
mean median min max skew kurt : | axis skipna numeric_only
std var sem : | axis skipna ddof numeric_only
any all : | axis bool_only skipna
idxmin idxmax : | axis skipna numeric_only
nunique : | axis dropna
count : | axis numeric_only
"""

_SAME = """
head tail : n
abs isna isnull notna notnull transpose :
round : decimals
clip : lower upper | axis
cumsum cumprod cummax cummin : | axis skipna
diff : periods axis
shift : periods freq axis fill_value
pct_change : periods fill_method freq
rank : | axis method numeric_only na_option ascending pct
fillna : value | axis limit
dropna : | axis how thresh subset ignore_index
drop : labels | axis index columns level errors
rename : mapper | index columns axis level errors
sort_index : | axis level ascending kind na_position sort_remaining ignore_index
isin : values
replace : to_replace value
copy : deep
where mask : cond other | axis level
describe : percentiles include exclude
add sub div truediv floordiv mod pow radd rsub rdiv rtruediv rfloordiv rmod rpow : other axis level fill_value
eq ne lt le gt ge : other axis level
"""

_DATAFRAME = """
sort_values : by | axis ascending kind na_position ignore_index
reset_index : level | drop col_level col_fill allow_duplicates names
nlargest nsmallest : n columns keep
duplicated : subset keep
drop_duplicates : subset | keep ignore_index
mode : | axis numeric_only dropna
select_dtypes : include exclude
set_index : keys | drop append verify_integrity
explode : column | ignore_index
assign : | **
"""

_SERIES = """
sort_values : | axis ascending kind na_position ignore_index
reset_index : level | drop name allow_duplicates
nlargest nsmallest : n keep
duplicated : keep
drop_duplicates : | keep ignore_index
mode : dropna
between : left right inclusive
"""

_INDEX = """
unique : level
sort_values : | return_indexer ascending na_position
copy : name deep
drop : labels errors
difference union intersection symmetric_difference : other sort
dropna : how
fillna : value
rename : name
"""

_GROUPBY = """
sum prod : numeric_only min_count
mean median : numeric_only
std var sem : ddof numeric_only
min max : numeric_only min_count
first last : numeric_only min_count skipna
count :
nunique : dropna
any all : skipna
idxmin idxmax : skipna
quantile : q interpolation numeric_only
describe :
"""

_GROUPBY_SAME_SHAPE = """
cumsum cumprod cummax cummin : numeric_only skipna
head tail : n
diff : periods
shift : periods freq fill_value
pct_change : periods fill_method freq
rank : method ascending na_option pct
"""

_FUNCTIONS = """
concat : objs | axis join ignore_index keys names sort
"""


def _frames() -> list[OpSpec]:
    specs: list[OpSpec] = []
    for fam in FRAMES:
        specs += block(_AGGREGATES, family=fam, category="pandas-aggregate", result="@pd_reduce")
        specs += block(
            "quantile : q | axis numeric_only interpolation method",
            family=fam,
            category="pandas-aggregate",
            result="@pd_quantile",
        )
        specs += block(_SAME, family=fam, category="pandas-column")
        specs += block(
            "mul rmul : other axis level fill_value",
            family=fam,
            category="pandas-column",
            guard="pandas_mul",
        )
        specs += block(
            "astype : dtype copy errors", family=fam, category="conversion", checks=("dtype",)
        )
        specs += block(
            "to_numpy : dtype copy na_value",
            family=fam,
            category="conversion",
            result="ndarray",
            checks=("dtype",),
            guard="astype",
        )
        specs += block(
            "agg aggregate : func axis | **",
            family=fam,
            category="pandas-aggregate",
            result="@pd_agg",
            checks=("agg",),
        )
        specs += block(
            "value_counts : | normalize sort ascending dropna",
            family=fam,
            category="pandas-aggregate",
            result="series",
        )
        specs += block(
            "groupby : by level | as_index sort group_keys observed dropna",
            family=fam,
            category="pandas-group",
            result="groupby",
        )
        specs += block("dot : other", family=fam, category="linalg", result="@pd_dot")
        specs += block(
            "loc iloc at iat :", family=fam, category="indexing", kind="attr", result="indexer"
        )
        specs += block("index :", family=fam, category="indexing", kind="attr", result="index")
        specs += block("shape :", family=fam, category="shape", kind="attr", result="value")
        specs += block(
            "size ndim empty :", family=fam, category="shape", kind="attr", result="scalar"
        )
        specs += block("values :", family=fam, category="conversion", kind="attr", result="ndarray")
        specs += block("T :", family=fam, category="shape", kind="attr")
    df = "dataframe"
    specs += block(_DATAFRAME, family=df, category="pandas-column")
    specs += block(
        "corr : method min_periods numeric_only\ncov : min_periods ddof numeric_only",
        family=df,
        category="pandas-aggregate",
        result="dataframe",
    )
    specs += block(
        "merge : right how on left_on right_on left_index right_index sort suffixes indicator validate\n"
        "join : other on how lsuffix rsuffix sort validate\n"
        "melt : id_vars value_vars var_name value_name col_level ignore_index\n"
        "pivot : | columns index values",
        family=df,
        category="pandas-join",
        result="dataframe",
    )
    specs += block(
        "pivot_table : values index columns aggfunc fill_value margins dropna margins_name observed sort",
        family=df,
        category="pandas-group",
        result="dataframe",
        checks=("agg",),
    )
    specs += block("to_dict : orient", family=df, category="conversion", result="value")
    specs += block("columns :", family=df, category="indexing", kind="attr", result="index")
    specs += block("dtypes :", family=df, category="shape", kind="attr", result="series")
    sr = "series"
    specs += block(_SERIES, family=sr, category="pandas-column")
    specs += block(
        "corr : other method min_periods\ncov : other min_periods ddof",
        family=sr,
        category="pandas-aggregate",
        result="scalar",
    )
    specs += block("unique :", family=sr, category="pandas-aggregate", result="ndarray")
    specs += block("tolist to_list :", family=sr, category="conversion", result="value")
    specs += block("item :", family=sr, category="conversion", result="scalar")
    specs += block("to_frame : name", family=sr, category="conversion", result="dataframe")
    specs += block(
        "is_unique is_monotonic_increasing is_monotonic_decreasing hasnans :",
        family=sr,
        category="shape",
        kind="attr",
        result="scalar",
    )
    return specs


def _index() -> list[OpSpec]:
    ix = "index"
    specs = block(_INDEX, family=ix, category="pandas-column")
    specs += block("astype : dtype copy", family=ix, category="conversion", checks=("dtype",))
    specs += block(
        "to_numpy : dtype copy na_value",
        family=ix,
        category="conversion",
        result="ndarray",
        checks=("dtype",),
        guard="astype",
    )
    specs += block("tolist to_list :", family=ix, category="conversion", result="value")
    specs += block(
        "isin : values level\nisna notna :\nduplicated : keep",
        family=ix,
        category="pandas-column",
        result="ndarray",
    )
    specs += block(
        "nunique : dropna\nmin max argmin argmax : axis skipna\nget_loc : key",
        family=ix,
        category="pandas-aggregate",
        result="scalar",
    )
    specs += block(
        "value_counts : normalize sort ascending bins dropna",
        family=ix,
        category="pandas-aggregate",
        result="series",
    )
    specs += block("to_series : index name", family=ix, category="conversion", result="series")
    specs += block("to_frame : index name", family=ix, category="conversion", result="dataframe")
    specs += block("shape :", family=ix, category="shape", kind="attr", result="value")
    specs += block(
        "size ndim empty is_unique is_monotonic_increasing is_monotonic_decreasing hasnans :",
        family=ix,
        category="shape",
        kind="attr",
        result="scalar",
    )
    specs += block("values :", family=ix, category="conversion", kind="attr", result="ndarray")
    specs += block("T :", family=ix, category="shape", kind="attr")
    return specs


def _groupby() -> list[OpSpec]:
    gb = "groupby"
    specs = block(_GROUPBY, family=gb, category="pandas-group", result="@gb_agg")
    specs += block(_GROUPBY_SAME_SHAPE, family=gb, category="pandas-group", result="@gb_agg")
    specs += block("size :", family=gb, category="pandas-group", result="series")
    specs += block("cumcount : ascending", family=gb, category="pandas-group", result="series")
    specs += block(
        "value_counts : | normalize sort ascending dropna",
        family=gb,
        category="pandas-group",
        result="series",
    )
    specs += block(
        "agg aggregate transform : func | **",
        family=gb,
        category="pandas-group",
        result="@gb_agg",
        checks=("agg",),
    )
    specs += block("ngroups :", family=gb, category="pandas-group", kind="attr", result="scalar")
    return specs


def _functions() -> list[OpSpec]:
    specs = block(
        _FUNCTIONS, namespace=PD, category="pandas-join", result="@pd_concat", guard="concat"
    )
    specs += block(
        "merge : left right how on left_on right_on left_index right_index sort suffixes indicator validate",
        namespace=PD,
        category="pandas-join",
        result="dataframe",
    )
    specs += block(
        "get_dummies : data prefix prefix_sep dummy_na columns sparse drop_first dtype",
        namespace=PD,
        category="pandas-column",
        result="dataframe",
        checks=("dtype",),
    )
    specs += block(
        "cut : x bins right labels retbins precision include_lowest duplicates ordered\n"
        "qcut : x q labels retbins precision duplicates",
        namespace=PD,
        category="pandas-column",
        result="@first_arg",
        guard="cut",
    )
    specs += block(
        "isna notna : obj\n"
        "to_numeric : arg | errors downcast dtype_backend\n"
        "to_datetime : arg | errors dayfirst yearfirst utc format unit origin",
        namespace=PD,
        category="conversion",
        result="@first_arg",
    )
    specs += block("unique : values", namespace=PD, category="pandas-aggregate", result="ndarray")
    specs += block(
        "DataFrame : data index columns dtype",
        namespace=PD,
        category="creation",
        result="dataframe",
        checks=("dtype",),
    )
    specs += block(
        "Series : data index dtype name",
        namespace=PD,
        category="creation",
        result="series",
        checks=("dtype",),
    )
    return specs


def pandas_specs() -> list[OpSpec]:
    """Every pandas entry."""
    return _functions() + _frames() + _index() + _groupby()
