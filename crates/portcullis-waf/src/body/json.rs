//! JSON bodies flattened into arguments as ModSecurity 3 names them: `json.a.b` for nested
//! keys, `json.list.array_0` for array elements, scalars as their text (`true`, `1.5`, empty for
//! `null`). Duplicate keys are all kept, in order, so no value hides behind another.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::{Parsed, MAX_ARGUMENTS, MAX_JSON_DEPTH};

/// Parses `body`; on error the arguments read so far are kept and the error is set.
pub fn parse(body: &[u8]) -> Parsed {
    let mut out = Parsed::default();
    let mut de = serde_json::Deserializer::from_slice(body);
    let result = Flatten {
        path: b"json".to_vec(),
        depth: 0,
        args: &mut out.args,
    }
    .deserialize(&mut de)
    .and_then(|()| de.end());
    if let Err(e) = result {
        out.error = Some(format!("JSON parsing error: {e}"));
    }
    out
}

struct Flatten<'a> {
    path: Vec<u8>,
    depth: usize,
    args: &'a mut super::Pairs,
}

impl Flatten<'_> {
    fn push(&mut self, value: Vec<u8>) -> Result<(), String> {
        if self.args.len() >= MAX_ARGUMENTS {
            return Err(format!("more than {MAX_ARGUMENTS} arguments"));
        }
        self.args.push((self.path.clone(), value));
        Ok(())
    }

    fn child(&mut self, suffix: &[u8]) -> Flatten<'_> {
        let mut path = self.path.clone();
        path.push(b'.');
        path.extend_from_slice(suffix);
        Flatten {
            path,
            depth: self.depth + 1,
            args: self.args,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Flatten<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

macro_rules! scalar {
    ($($method:ident: $t:ty),*) => {$(
        fn $method<E: serde::de::Error>(mut self, v: $t) -> Result<(), E> {
            self.push(v.to_string().into_bytes()).map_err(E::custom)
        }
    )*};
}

impl<'de> Visitor<'de> for Flatten<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    scalar!(visit_bool: bool, visit_i64: i64, visit_u64: u64, visit_f64: f64, visit_str: &str);

    fn visit_unit<E: serde::de::Error>(mut self) -> Result<(), E> {
        self.push(Vec::new()).map_err(E::custom)
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        if self.depth >= MAX_JSON_DEPTH {
            return Err(serde::de::Error::custom("nested too deeply"));
        }
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            map.next_value_seed(self.child(key.as_bytes()))?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        if self.depth >= MAX_JSON_DEPTH {
            return Err(serde::de::Error::custom("nested too deeply"));
        }
        let mut i = 0usize;
        loop {
            let name = format!("array_{i}");
            if seq
                .next_element_seed(self.child(name.as_bytes()))?
                .is_none()
            {
                return Ok(());
            }
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(body: &str) -> Vec<(String, String)> {
        let p = parse(body.as_bytes());
        assert!(p.error.is_none(), "{:?}", p.error);
        p.args
            .into_iter()
            .map(|(k, v)| (String::from_utf8(k).unwrap(), String::from_utf8(v).unwrap()))
            .collect()
    }

    #[test]
    fn flattens_like_modsecurity() {
        assert_eq!(
            args(r#"{"a":{"b":"x"},"l":[1,true,null],"a":"dup"}"#),
            [
                ("json.a.b", "x"),
                ("json.l.array_0", "1"),
                ("json.l.array_1", "true"),
                ("json.l.array_2", ""),
                ("json.a", "dup"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
        assert!(parse(b"{\"a\":").error.is_some());
        assert!(parse(b"{} x").error.is_some());
        let deep = "[".repeat(10_000);
        assert!(parse(deep.as_bytes()).error.is_some());
    }
}
