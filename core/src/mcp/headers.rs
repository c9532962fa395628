//! Request metadata headers of Streamable HTTP 2026-07-28: `Mcp-Name` and `Mcp-Param-*`
//! values (plain when header-safe, else the `=?base64?…?=` sentinel), and the tool
//! parameters a server asks to be mirrored into headers (`x-mcp-header` in a tool's
//! `inputSchema`).

use crate::json::Json;

const SENTINEL_START: &str = "=?base64?";
const SENTINEL_END: &str = "?=";

/// A header value for `s`: as is when it is plain header-safe ASCII (visible characters and
/// inner spaces or tabs), else Base64 of its UTF-8 bytes in the sentinel form. A plain value
/// that looks like the sentinel is encoded too, so it cannot be misread.
pub fn encode_value(s: &str) -> String {
    let safe = crate::text::find_byte(s, |b| {
        !(0x21..=0x7e).contains(&b) && b != b' ' && b != b'\t'
    })
    .is_none();
    let blank = |b: Option<u8>| matches!(b, Some(b' ' | b'\t'));
    let padded = blank(s.bytes().next()) || blank(s.bytes().last());
    let looks_encoded = s.starts_with(SENTINEL_START) && s.ends_with(SENTINEL_END);
    if safe && !padded && !looks_encoded {
        s.to_string()
    } else {
        format!("{SENTINEL_START}{}{SENTINEL_END}", crate::b64::standard(s))
    }
}

pub use crate::text::printable;

/// One tool parameter mirrored into a header: the `properties` path and the header name
/// (without the `Mcp-Param-` prefix).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamHeader {
    pub path: Vec<String>,
    pub name: String,
}

/// The `x-mcp-header` annotations of a tool's `inputSchema`, checked against the spec's
/// constraints. `Err` says why the tool must be left out of `tools/list`.
pub fn param_headers(input_schema: &Json) -> Result<Vec<ParamHeader>, String> {
    let mut out = Vec::new();
    collect(input_schema, &mut Vec::new(), true, &mut out)?;
    for (i, a) in out.iter().enumerate() {
        if out[..i]
            .iter()
            .any(|b| b.name.eq_ignore_ascii_case(&a.name))
        {
            return Err(format!("x-mcp-header `{}` is used twice", a.name));
        }
    }
    Ok(out)
}

fn collect(
    schema: &Json,
    path: &mut Vec<String>,
    reachable: bool,
    out: &mut Vec<ParamHeader>,
) -> Result<(), String> {
    let Some(obj) = schema.as_object() else {
        return Ok(());
    };
    if let Some(h) = obj.get("x-mcp-header") {
        if !reachable || path.is_empty() {
            return Err("x-mcp-header outside a chain of `properties`".into());
        }
        let name = h.as_str().ok_or("x-mcp-header is not a string")?;
        if name.is_empty() || crate::text::find_byte(name, |b| !is_tchar(b)).is_some() {
            return Err(format!(
                "x-mcp-header `{}` is not a header name",
                printable(name, 60)
            ));
        }
        let ty = obj.get("type").and_then(Json::as_str);
        if !matches!(ty, Some("string" | "integer" | "boolean")) {
            return Err(format!(
                "x-mcp-header `{name}` is on a parameter that is not a string, integer or boolean"
            ));
        }
        out.push(ParamHeader {
            path: path.clone(),
            name: name.to_string(),
        });
    }
    for (key, sub) in obj.iter() {
        match (key, sub) {
            ("properties", Json::Object(props)) => {
                for (name, prop) in props.iter() {
                    path.push(name.to_string());
                    let r = collect(prop, path, reachable, out);
                    path.pop();
                    r?;
                }
            }
            // anything under another keyword is not statically reachable
            (_, Json::Object(_)) => collect(sub, path, false, out)?,
            (_, Json::Array(items)) => {
                for item in items {
                    collect(item, path, false, out)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The `Mcp-Param-*` headers for a call's arguments; parameters absent or null give none.
pub fn param_values(headers: &[ParamHeader], arguments: &Json) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for h in headers {
        let mut v = arguments;
        for step in &h.path {
            match v.get(step) {
                Some(next) => v = next,
                None => {
                    v = &Json::Null;
                    break;
                }
            }
        }
        // integers only within the safe range (a JSON number is an f64 here)
        let text = match v {
            Json::String(s) => s.clone(),
            Json::Bool(b) => (if *b { "true" } else { "false" }).to_string(),
            // through `Display`, as every other integer core writes (`to_string`'s own fast
            // path for integers would be one more formatter in the wasm build)
            Json::Number(_) => match v.as_i64() {
                Some(i) => format!("{i}"),
                None => continue,
            },
            _ => continue,
        };
        out.push((format!("mcp-param-{}", h.name), encode_value(&text)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Test fixtures are written with `serde_json::json!` and read as core's tree.
    macro_rules! json {
        ($($t:tt)+) => {
            crate::json::parse(&serde_json::to_vec(&serde_json::json!($($t)+)).unwrap()).unwrap()
        };
    }

    #[test]
    fn values_follow_the_spec_examples() {
        assert_eq!(encode_value("us-west1"), "us-west1");
        assert_eq!(
            encode_value("Hello, 世界"),
            "=?base64?SGVsbG8sIOS4lueVjA==?="
        );
        assert_eq!(encode_value(" padded "), "=?base64?IHBhZGRlZCA=?=");
        for padded in [" x", "x ", "\tx", "x\t", "\t", " "] {
            assert!(encode_value(padded).starts_with("=?base64?"), "{padded:?}");
        }
        assert_eq!(encode_value("x\ty"), "x\ty");
        assert_eq!(encode_value("line1\nline2"), "=?base64?bGluZTEKbGluZTI=?=");
        assert_eq!(
            encode_value("=?base64?literal?="),
            "=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?="
        );
        assert_eq!(encode_value("a b"), "a b");
    }

    #[test]
    fn annotations_are_found_and_checked() {
        let schema = json!({"type": "object", "properties": {
            "region": {"type": "string", "x-mcp-header": "Region"},
            "opts": {"type": "object", "properties": {"dry": {"type": "boolean", "x-mcp-header": "Dry"}}},
            "query": {"type": "string"}
        }});
        let hs = param_headers(&schema).unwrap();
        assert_eq!(hs.len(), 2);
        let args = json!({"region": "eu west ", "opts": {"dry": true}, "query": "x"});
        let mut got = param_values(&hs, &args);
        got.sort();
        assert_eq!(
            got,
            vec![
                ("mcp-param-Dry".to_string(), "true".to_string()),
                ("mcp-param-Region".to_string(), encode_value("eu west ")),
            ]
        );
        assert!(param_values(&hs, &json!({"region": null})).is_empty());

        let int =
            param_headers(&json!({"properties": {"n": {"type": "integer", "x-mcp-header": "N"}}}))
                .unwrap();
        assert_eq!(
            param_values(&int, &json!({"n": -42})),
            vec![("mcp-param-N".to_string(), "-42".to_string())]
        );
        assert!(param_values(&int, &json!({"n": 1.5})).is_empty());
        assert!(param_values(&int, &json!({"n": 9007199254740993u64})).is_empty());

        for bad in [
            json!({"properties": {"n": {"type": "number", "x-mcp-header": "N"}}}),
            json!({"properties": {"n": {"type": "string", "x-mcp-header": "bad name"}}}),
            json!({"properties": {"a": {"type": "string", "x-mcp-header": "A"}, "b": {"type": "string", "x-mcp-header": "a"}}}),
            json!({"properties": {"l": {"type": "array", "items": {"type": "string", "x-mcp-header": "L"}}}}),
            json!({"anyOf": [{"properties": {"a": {"type": "string", "x-mcp-header": "A"}}}]}),
        ] {
            assert!(param_headers(&bad).is_err(), "{bad}");
        }
    }
}
