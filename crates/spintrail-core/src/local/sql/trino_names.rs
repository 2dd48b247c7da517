//! The allowlist of function names: a call whose name Athena (Trino, engine v3) does not know is
//! refused before planning, even where DataFusion has a function of that name (`to_timestamp`,
//! `string_to_array`, `array_has`, `date_bin`, `make_array`, ...): a query that runs locally must
//! not fail on Athena. The check reads the query as written, before our rewrites (which produce
//! DataFusion's own functions).

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    Expr, ObjectName, ObjectNamePart, Query, TableFactor, Visitor,
};

use super::messages;
use super::walk;
use crate::{Error, Result};

/// Function names of Trino as Athena engine v3 runs it: scalar, aggregate and window functions
/// (sorted; lower case). Names the local engine lacks are here too: they are refused later as
/// "not supported by the local engine", not as foreign.
pub const TRINO_FUNCTIONS: &[&str] = &[
    "abs",
    "acos",
    "all_match",
    "any_match",
    "any_value",
    "approx_distinct",
    "approx_most_frequent",
    "approx_percentile",
    "approx_set",
    "arbitrary",
    "array_agg",
    "array_distinct",
    "array_except",
    "array_histogram",
    "array_intersect",
    "array_join",
    "array_max",
    "array_min",
    "array_position",
    "array_remove",
    "array_sort",
    "array_union",
    "arrays_overlap",
    "asin",
    "at_timezone",
    "atan",
    "atan2",
    "avg",
    "bar",
    "beta_cdf",
    "bing_tile",
    "bit_count",
    "bitwise_and",
    "bitwise_and_agg",
    "bitwise_left_shift",
    "bitwise_not",
    "bitwise_or",
    "bitwise_or_agg",
    "bitwise_right_shift",
    "bitwise_right_shift_arithmetic",
    "bitwise_xor",
    "bitwise_xor_agg",
    "bool_and",
    "bool_or",
    "cardinality",
    "cbrt",
    "ceil",
    "ceiling",
    "checksum",
    "chr",
    "classify",
    "coalesce",
    "codepoint",
    "color",
    "combinations",
    "concat",
    "concat_ws",
    "contains",
    "contains_sequence",
    "corr",
    "cos",
    "cosh",
    "cosine_distance",
    "cosine_similarity",
    "count",
    "count_if",
    "covar_pop",
    "covar_samp",
    "crc32",
    "cume_dist",
    "current_catalog",
    "current_date",
    "current_groups",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_timezone",
    "current_user",
    "date",
    "date_add",
    "date_diff",
    "date_format",
    "date_parse",
    "date_trunc",
    "day",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "degrees",
    "dense_rank",
    "dow",
    "doy",
    "e",
    "element_at",
    "empty_approx_set",
    "entropy",
    "evaluate_classifier_predictions",
    "every",
    "exp",
    "features",
    "filter",
    "first_value",
    "flatten",
    "floor",
    "format",
    "format_datetime",
    "format_number",
    "from_base",
    "from_base32",
    "from_base64",
    "from_base64url",
    "from_big_endian_32",
    "from_big_endian_64",
    "from_encoded_polyline",
    "from_geojson_geometry",
    "from_hex",
    "from_ieee754_32",
    "from_ieee754_64",
    "from_iso8601_date",
    "from_iso8601_timestamp",
    "from_iso8601_timestamp_nanos",
    "from_unixtime",
    "from_unixtime_nanos",
    "from_utf8",
    "geometric_mean",
    "greatest",
    "grouping",
    "hamming_distance",
    "histogram",
    "hmac_md5",
    "hmac_sha1",
    "hmac_sha256",
    "hmac_sha512",
    "hour",
    "human_readable_seconds",
    "if",
    "infinity",
    "inverse_beta_cdf",
    "inverse_normal_cdf",
    "is_finite",
    "is_infinite",
    "is_json_scalar",
    "is_nan",
    "json_array",
    "json_array_contains",
    "json_array_get",
    "json_array_length",
    "json_exists",
    "json_extract",
    "json_extract_scalar",
    "json_format",
    "json_object",
    "json_parse",
    "json_query",
    "json_size",
    "json_value",
    "kurtosis",
    "lag",
    "last_day_of_month",
    "last_value",
    "lead",
    "learn_classifier",
    "learn_libsvm_classifier",
    "learn_libsvm_regressor",
    "learn_regressor",
    "least",
    "length",
    "levenshtein_distance",
    "listagg",
    "ln",
    "localtime",
    "localtimestamp",
    "log",
    "log10",
    "log2",
    "lower",
    "lpad",
    "ltrim",
    "luhn_check",
    "map",
    "map_agg",
    "map_concat",
    "map_entries",
    "map_filter",
    "map_from_entries",
    "map_keys",
    "map_union",
    "map_values",
    "map_zip_with",
    "max",
    "max_by",
    "md5",
    "merge",
    "millisecond",
    "min",
    "min_by",
    "minute",
    "mod",
    "month",
    "multimap_agg",
    "multimap_from_entries",
    "murmur3",
    "nan",
    "ngrams",
    "none_match",
    "normal_cdf",
    "normalize",
    "now",
    "nth_value",
    "ntile",
    "nullif",
    "numeric_histogram",
    "parse_data_size",
    "parse_datetime",
    "parse_duration",
    "percent_rank",
    "pi",
    "pow",
    "power",
    "qdigest_agg",
    "quarter",
    "radians",
    "rand",
    "random",
    "rank",
    "reduce",
    "reduce_agg",
    "regexp_count",
    "regexp_extract",
    "regexp_extract_all",
    "regexp_like",
    "regexp_position",
    "regexp_replace",
    "regexp_split",
    "regr_intercept",
    "regr_slope",
    "regress",
    "render",
    "repeat",
    "replace",
    "reverse",
    "rgb",
    "round",
    "row",
    "row_number",
    "rpad",
    "rtrim",
    "second",
    "sequence",
    "set_agg",
    "set_union",
    "sha1",
    "sha256",
    "sha512",
    "shuffle",
    "sign",
    "sin",
    "sinh",
    "skewness",
    "slice",
    "soundex",
    "split",
    "split_part",
    "split_to_map",
    "split_to_multimap",
    "spooky_hash_v2_32",
    "spooky_hash_v2_64",
    "sqrt",
    "starts_with",
    "stddev",
    "stddev_pop",
    "stddev_samp",
    "strpos",
    "substr",
    "substring",
    "sum",
    "tan",
    "tanh",
    "tdigest_agg",
    "timestamp_objectid",
    "timezone_hour",
    "timezone_minute",
    "to_base",
    "to_base32",
    "to_base64",
    "to_base64url",
    "to_big_endian_32",
    "to_big_endian_64",
    "to_encoded_polyline",
    "to_geojson_geometry",
    "to_hex",
    "to_ieee754_32",
    "to_ieee754_64",
    "to_iso8601",
    "to_milliseconds",
    "to_unixtime",
    "to_utf8",
    "transform",
    "transform_keys",
    "transform_values",
    "translate",
    "trim",
    "trim_array",
    "truncate",
    "try",
    "typeof",
    "upper",
    "url_decode",
    "url_encode",
    "url_extract_fragment",
    "url_extract_host",
    "url_extract_parameter",
    "url_extract_path",
    "url_extract_port",
    "url_extract_protocol",
    "url_extract_query",
    "uuid",
    "value_at_quantile",
    "values_at_quantiles",
    "var_pop",
    "var_samp",
    "variance",
    "version",
    "week",
    "week_of_year",
    "width_bucket",
    "wilson_interval_lower",
    "wilson_interval_upper",
    "with_timezone",
    "word_stem",
    "xxhash64",
    "year",
    "year_of_week",
    "yow",
    "zip",
    "zip_with",
];

/// What to write in Trino instead of a DataFusion-only function people reach for.
fn trino_instead(name: &str) -> Option<&'static str> {
    Some(match name {
        "to_timestamp" | "to_timestamp_millis" | "to_timestamp_seconds" => {
            "use from_iso8601_timestamp(text), date_parse(text, format) or from_unixtime(seconds)"
        }
        "string_to_array" | "split_string" => "use split(text, delimiter)",
        "array_has" | "list_has" | "array_contains" => "use contains(array, value)",
        "make_array" | "make_list" => "use ARRAY[a, b, ...]",
        "date_bin" => "use date_trunc(unit, timestamp)",
        "array_length" | "list_length" | "array_size" => "use cardinality(array)",
        "array_to_string" | "list_to_string" => "use array_join(array, delimiter)",
        "to_char" | "strftime" => "use date_format(timestamp, format) or format_datetime",
        "to_date" => "use date(text) or CAST(date_parse(text, format) AS date)",
        "date_part" | "datepart" => "use extract(field FROM x) or year(x), month(x), ...",
        "regexp_match" | "regexp_substr" => "use regexp_extract(text, pattern)",
        "array_append" | "array_prepend" | "array_cat" | "array_concat" => {
            "use concat(array, ARRAY[value])"
        }
        "nvl" | "ifnull" => "use coalesce(a, b)",
        "iif" => "use if(condition, a, b)",
        "trunc" => "use truncate(x)",
        "signum" => "use sign(x)",
        "levenshtein" => "use levenshtein_distance(a, b)",
        "char_length" | "character_length" | "octet_length" | "bit_length" => "use length(text)",
        "left" | "right" => "use substr(text, start, length)",
        "ends_with" => "use text LIKE '%suffix'",
        "instr" | "position" => "use strpos(text, substring)",
        "btrim" => "use trim(text)",
        "array_element" | "list_element" | "array_extract" => {
            "use element_at(array, index) or array[index]"
        }
        "generate_series" | "range" => "use sequence(start, stop)",
        "array_slice" | "list_slice" => "use slice(array, start, length)",
        "array_repeat" => "use repeat(element, count)",
        "arrow_cast" | "arrow_typeof" => "use CAST(x AS type) or typeof(x)",
        "map_extract" => "use element_at(map, key)",
        "now_utc" | "current_datetime" => "use now() or current_timestamp",
        _ => return None,
    })
}

fn refusal(name: &str) -> Error {
    let hint = match (trino_instead(name), messages::close_trino_name(name)) {
        (Some(instead), _) => format!(
            ": it is not an Athena (Trino) function, so Athena would refuse it too; {instead}"
        ),
        (None, Some(close)) => {
            format!(": it is not an Athena (Trino) function (did you mean {close}?)")
        }
        (None, None) => {
            ": it is not an Athena (Trino) function, so Athena would refuse it too".to_string()
        }
    };
    Error::UnsupportedFunction {
        name: name.to_string(),
        hint,
    }
}

/// Whether `name` (lower case) is a Trino function name.
pub fn is_trino_function(name: &str) -> bool {
    TRINO_FUNCTIONS.binary_search(&name).is_ok()
}

fn object_name(name: &ObjectName) -> String {
    name.0
        .iter()
        .map(|part| match part {
            ObjectNamePart::Identifier(id) => id.value.to_lowercase(),
            other => other.to_string().to_lowercase(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

struct FunctionNames {
    refused: Option<String>,
}

impl Visitor for FunctionNames {
    type Break = ();

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        if let Expr::Function(f) = expr {
            let name = object_name(&f.name);
            if !is_trino_function(&name) {
                self.refused = Some(name);
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        // Table functions in FROM (`FROM generate_series(1, 3)`): Trino has none but UNNEST.
        let name = match factor {
            TableFactor::Table {
                name,
                args: Some(_),
                ..
            } => Some(object_name(name)),
            TableFactor::Function { name, .. } => Some(object_name(name)),
            _ => None,
        };
        match name {
            Some(n) if n != "unnest" => {
                self.refused = Some(n);
                ControlFlow::Break(())
            }
            _ => ControlFlow::Continue(()),
        }
    }
}

/// Refuses the first call in `query` (as written) of a function Athena does not know.
pub fn refuse_foreign_functions(query: &Query) -> Result<()> {
    let mut names = FunctionNames { refused: None };
    let _ = walk::walk(query, &mut names);
    match names.refused {
        Some(name) => Err(refusal(&name)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_and_unique() {
        assert!(TRINO_FUNCTIONS.windows(2).all(|w| w[0] < w[1]));
        assert!(is_trino_function("json_extract_scalar"));
        assert!(!is_trino_function("to_timestamp"));
        assert!(!is_trino_function("make_array"));
    }
}
