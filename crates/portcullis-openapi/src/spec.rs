//! Loading a spec: reading its files, checking its structure, and compiling every operation.
//! Every mistake is reported with its place; a spec with any error is refused whole.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::body::{self, Media};
use crate::document::{Documents, Loc};
use crate::error::{SpecError, SpecErrors};
use crate::operation::{Operation, RequestBodySpec, ResponseSpec, StatusKey};
use crate::params::{Location, Param, Style};
use crate::schema::Compiler;
use crate::{Options, Version};

/// The methods a path item may hold.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];
/// Other keys a path item may hold.
const PATH_ITEM_KEYS: [&str; 5] = ["summary", "description", "servers", "parameters", "$ref"];

/// A loaded, compiled spec.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The OpenAPI version family.
    pub version: Version,
    /// `info.title`.
    pub title: String,
    /// Every operation, by path (then method).
    pub operations: Vec<Arc<Operation>>,
}

impl Spec {
    /// Loads and compiles the spec at `path` (and the local files it references).
    pub fn load(path: &Path, options: &Options) -> Result<Self, SpecErrors> {
        Self::compile(Documents::load(path).map_err(SpecErrors)?, options)
    }

    /// Compiles a spec given as text (`name` labels errors). It may not reference files.
    pub fn parse(text: &str, name: &Path, options: &Options) -> Result<Self, SpecErrors> {
        Self::compile(
            Documents::from_text(text, name).map_err(SpecErrors)?,
            options,
        )
    }

    fn compile(docs: Documents, options: &Options) -> Result<Self, SpecErrors> {
        let mut loader = Loader {
            docs: &docs,
            errors: Vec::new(),
        };
        let root = Loc {
            file: 0,
            pointer: String::new(),
        };
        let Some(Value::Object(top)) = docs.get(&root) else {
            return Err(SpecErrors(vec![docs.error(
                &root,
                "a spec must be a YAML or JSON object with `openapi`, `info` and `paths`",
            )]));
        };
        let version = match top.get("openapi") {
            Some(Value::String(v)) if v.starts_with("3.0.") || v == "3.0" => Version::V30,
            Some(Value::String(v)) if v.starts_with("3.1.") || v == "3.1" => Version::V31,
            Some(v) => {
                return Err(SpecErrors(vec![docs.error(
                    &root.child("openapi"),
                    format!("unsupported OpenAPI version {v}: 3.0.x and 3.1.x are supported"),
                )]))
            }
            None if top.contains_key("swagger") => {
                return Err(SpecErrors(vec![docs.error(
                    &root.child("swagger"),
                    "Swagger 2.0 is not supported: convert the spec to OpenAPI 3",
                )]))
            }
            None => {
                return Err(SpecErrors(vec![
                    docs.error(&root, "missing `openapi` (the version, e.g. 3.1.0)")
                ]))
            }
        };
        let title = top
            .get("info")
            .and_then(|i| i.get("title"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let spec_security = top.get("security").map(requires_credentials);
        let mut compiler = Compiler::new(&docs, version, options.unknown_fields);
        let mut built = Vec::new();
        match top.get("paths") {
            Some(Value::Object(paths)) => {
                let at = root.child("paths");
                for template in paths.keys() {
                    loader.path_item(
                        &mut compiler,
                        &at.child(template),
                        template,
                        spec_security,
                        &mut built,
                    );
                }
            }
            Some(_) => loader.error(&root.child("paths"), "paths must be an object"),
            None => loader.error(&root, "missing `paths`"),
        }
        let mut seen = BTreeSet::new();
        for (op, loc) in &built {
            if let Some(id) = &op.id {
                if !seen.insert(id.clone()) {
                    loader.error(
                        &loc.child("operationId"),
                        format!("operationId {id:?} is used twice"),
                    );
                }
            }
        }
        let (schemas, schema_errors) = compiler.finish();
        let mut errors = loader.errors;
        errors.extend(schema_errors);
        if !errors.is_empty() {
            errors.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
            errors.dedup();
            return Err(SpecErrors(errors));
        }
        let schemas = Arc::new(schemas);
        let operations = built
            .into_iter()
            .map(|(mut op, _)| {
                op.schemas = schemas.clone();
                op.options = options.clone();
                Arc::new(op)
            })
            .collect();
        Ok(Self {
            version,
            title,
            operations,
        })
    }
}

/// Whether a `security` requirement list demands a credential (`[]` or `[{}]` do not).
fn requires_credentials(v: &Value) -> bool {
    match v {
        Value::Array(reqs) => {
            !reqs.is_empty()
                && reqs
                    .iter()
                    .all(|r| r.as_object().is_some_and(|m| !m.is_empty()))
        }
        _ => true,
    }
}

struct Loader<'d> {
    docs: &'d Documents,
    errors: Vec<SpecError>,
}

impl<'d> Loader<'d> {
    fn error(&mut self, loc: &Loc, message: impl Into<String>) {
        self.errors.push(self.docs.error(loc, message));
    }

    /// Follows `$ref`s from `loc` to the object they name.
    fn deref(&mut self, loc: &Loc) -> Option<(Loc, &'d Map<String, Value>)> {
        let mut loc = loc.clone();
        for _ in 0..16 {
            match self.docs.get(&loc) {
                Some(Value::Object(m)) => match m.get("$ref") {
                    Some(Value::String(r)) => match self.docs.resolve(loc.file, r) {
                        Ok(next) => loc = next,
                        Err(msg) => {
                            self.error(&loc.child("$ref"), msg);
                            return None;
                        }
                    },
                    Some(_) => {
                        self.error(&loc.child("$ref"), "$ref must be a string");
                        return None;
                    }
                    None => return Some((loc, m)),
                },
                _ => {
                    self.error(&loc, "expected an object");
                    return None;
                }
            }
        }
        self.error(&loc, "$ref chain is too long or circular");
        None
    }

    fn path_item(
        &mut self,
        compiler: &mut Compiler<'_>,
        at: &Loc,
        template: &str,
        spec_security: Option<bool>,
        built: &mut Vec<(Operation, Loc)>,
    ) {
        let Some(names) = self.template_params(at, template) else {
            return;
        };
        let Some((item_at, item)) = self.deref(at) else {
            return;
        };
        for key in item.keys() {
            if !METHODS.contains(&key.as_str())
                && !PATH_ITEM_KEYS.contains(&key.as_str())
                && !key.starts_with("x-")
            {
                self.error(
                    &item_at.child(key),
                    format!("unknown key {key:?} in a path item (methods are lowercase: get, post, ...)"),
                );
            }
        }
        let shared = self.params(compiler, &item_at, item);
        for method in METHODS {
            if !item.contains_key(method) {
                continue;
            }
            let op_at = item_at.child(method);
            let Some(Value::Object(op)) = self.docs.get(&op_at) else {
                self.error(&op_at, "an operation must be an object");
                continue;
            };
            let mut params = shared.clone();
            for p in self.params(compiler, &op_at, op) {
                params.retain(|q: &Param| !(q.name == p.name && q.location == p.location));
                params.push(p);
            }
            for p in params.iter().filter(|p| p.location == Location::Path) {
                if !names.contains(&p.name) {
                    self.error(
                        &op_at,
                        format!(
                            "path parameter {:?} is not in the path template {template}",
                            p.name
                        ),
                    );
                }
            }
            for n in &names {
                if !params
                    .iter()
                    .any(|p| p.location == Location::Path && &p.name == n)
                {
                    self.error(
                        &op_at,
                        format!("path template parameter {{{n}}} is not declared in `parameters`"),
                    );
                }
            }
            let id = match op.get("operationId") {
                Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
                Some(_) => {
                    self.error(
                        &op_at.child("operationId"),
                        "operationId must be a non-empty string",
                    );
                    None
                }
                None => None,
            };
            let body = op
                .contains_key("requestBody")
                .then(|| self.request_body(compiler, &op_at.child("requestBody")))
                .flatten();
            let responses = self.responses(compiler, &op_at, op);
            let sunset = match op.get("x-sunset") {
                Some(Value::String(s)) => Some(s.clone()),
                Some(_) => {
                    self.error(
                        &op_at.child("x-sunset"),
                        "x-sunset must be a date such as 2027-01-31",
                    );
                    None
                }
                None => None,
            };
            let operation = Operation {
                id,
                method: http::Method::from_bytes(method.to_ascii_uppercase().as_bytes())
                    .unwrap_or(http::Method::GET),
                path: template.to_owned(),
                summary: op.get("summary").and_then(Value::as_str).map(str::to_owned),
                deprecated: op.get("deprecated") == Some(&Value::Bool(true)),
                sunset,
                spec_security: op
                    .get("security")
                    .map(requires_credentials)
                    .or(spec_security),
                params,
                body,
                responses,
                schemas: Arc::default(),
                options: Options::default(),
            };
            built.push((operation, op_at));
        }
    }

    /// The parameter names of a path template; each `{name}` must be a whole segment.
    fn template_params(&mut self, at: &Loc, template: &str) -> Option<Vec<String>> {
        if !template.starts_with('/') {
            self.error(at, format!("path {template:?} must start with '/'"));
            return None;
        }
        let mut names = Vec::new();
        for seg in template.split('/').skip(1) {
            if !seg.contains(['{', '}']) {
                continue;
            }
            let name = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}'));
            match name {
                Some(n)
                    if !n.is_empty()
                        && n.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b)) =>
                {
                    if names.iter().any(|x| x == n) {
                        self.error(
                            at,
                            format!("path parameter {{{n}}} appears twice in {template}"),
                        );
                    }
                    names.push(n.to_owned());
                }
                _ => {
                    self.error(
                        at,
                        format!("path {template:?}: a parameter must be a whole segment such as /users/{{id}}"),
                    );
                    return None;
                }
            }
        }
        Some(names)
    }

    fn params(
        &mut self,
        compiler: &mut Compiler<'_>,
        at: &Loc,
        owner: &Map<String, Value>,
    ) -> Vec<Param> {
        let mut out: Vec<Param> = Vec::new();
        match owner.get("parameters") {
            None => {}
            Some(Value::Array(list)) => {
                for i in 0..list.len() {
                    let p_at = at.child("parameters").child(&i.to_string());
                    if let Some(p) = self.param(compiler, &p_at) {
                        if out
                            .iter()
                            .any(|q| q.name == p.name && q.location == p.location)
                        {
                            self.error(
                                &p_at,
                                format!(
                                    "parameter {:?} in {} is declared twice",
                                    p.name,
                                    p.location.name()
                                ),
                            );
                        }
                        out.push(p);
                    }
                }
            }
            Some(_) => self.error(&at.child("parameters"), "parameters must be an array"),
        }
        out
    }

    fn param(&mut self, compiler: &mut Compiler<'_>, at: &Loc) -> Option<Param> {
        let (at, m) = self.deref(at)?;
        let Some(Value::String(name)) = m.get("name") else {
            self.error(&at, "a parameter needs a `name`");
            return None;
        };
        let location = match m
            .get("in")
            .and_then(Value::as_str)
            .and_then(Location::parse)
        {
            Some(l) => l,
            None => {
                self.error(
                    &at.child("in"),
                    "`in` must be path, query, header or cookie",
                );
                return None;
            }
        };
        let required = m.get("required") == Some(&Value::Bool(true));
        if location == Location::Path && !required {
            self.error(
                &at,
                format!("path parameter {name:?} must have `required: true`"),
            );
        }
        let style = match m.get("style") {
            None => Style::default_for(location),
            Some(v) => match v.as_str().and_then(Style::parse) {
                Some(s) if style_fits(s, location) => s,
                _ => {
                    self.error(
                        &at.child("style"),
                        format!("style {v} is not valid for a {} parameter", location.name()),
                    );
                    Style::default_for(location)
                }
            },
        };
        let explode = match m.get("explode") {
            Some(Value::Bool(b)) => *b,
            _ => style == Style::Form,
        };
        let (schema, json) = match (m.get("schema"), m.get("content")) {
            (Some(_), None) => (compiler.compile(&at.child("schema"), false), false),
            (None, Some(Value::Object(c))) if c.len() == 1 => {
                let (media, _) = c.iter().next()?;
                let media_at = at.child("content").child(media);
                let schema = match self.docs.get(&media_at).and_then(|v| v.get("schema")) {
                    Some(_) => compiler.compile(&media_at.child("schema"), false),
                    None => compiler.any(),
                };
                (schema, body::kind_of(media) == body::MediaKind::Json)
            }
            _ => {
                self.error(&at, format!("parameter {name:?} needs exactly one of `schema` or `content` (with one media type)"));
                (compiler.any(), false)
            }
        };
        let name = if location == Location::Header {
            name.to_ascii_lowercase()
        } else {
            name.clone()
        };
        Some(Param {
            name,
            location,
            required,
            style,
            explode,
            schema,
            json,
        })
    }

    fn request_body(&mut self, compiler: &mut Compiler<'_>, at: &Loc) -> Option<RequestBodySpec> {
        let (at, m) = self.deref(at)?;
        let media = match m.get("content") {
            Some(Value::Object(c)) if !c.is_empty() => {
                self.media(compiler, &at.child("content"), c)
            }
            _ => {
                self.error(
                    &at,
                    "requestBody needs `content` with at least one media type",
                );
                Vec::new()
            }
        };
        Some(RequestBodySpec {
            required: m.get("required") == Some(&Value::Bool(true)),
            media,
        })
    }

    fn media(
        &mut self,
        compiler: &mut Compiler<'_>,
        at: &Loc,
        content: &Map<String, Value>,
    ) -> Vec<Media> {
        content
            .iter()
            .map(|(range, v)| {
                let media_at = at.child(range);
                let schema = v
                    .get("schema")
                    .map(|_| compiler.compile(&media_at.child("schema"), false));
                let range = body::essence(range);
                Media {
                    kind: body::kind_of(&range),
                    range,
                    schema,
                }
            })
            .collect()
    }

    fn responses(
        &mut self,
        compiler: &mut Compiler<'_>,
        op_at: &Loc,
        op: &Map<String, Value>,
    ) -> Vec<ResponseSpec> {
        let at = op_at.child("responses");
        let Some(Value::Object(responses)) = op.get("responses") else {
            if op.contains_key("responses") {
                self.error(&at, "responses must be an object keyed by status code");
            }
            return Vec::new();
        };
        let mut out = Vec::new();
        for key in responses.keys() {
            if key.starts_with("x-") {
                continue;
            }
            let r_at = at.child(key);
            let status = match key.as_str() {
                "default" => StatusKey::Default,
                k if k.len() == 3 && k.ends_with("XX") || k.ends_with("xx") && k.len() == 3 => {
                    match k[..1].parse::<u16>() {
                        Ok(c @ 1..=5) => StatusKey::Class(c),
                        _ => {
                            self.error(&r_at, format!("invalid response status {k:?}"));
                            continue;
                        }
                    }
                }
                k => match k.parse::<u16>() {
                    Ok(c @ 100..=599) => StatusKey::Exact(c),
                    _ => {
                        self.error(
                            &r_at,
                            format!("invalid response status {k:?} (100-599, 2XX or default)"),
                        );
                        continue;
                    }
                },
            };
            let Some((r_at, r)) = self.deref(&r_at) else {
                continue;
            };
            let media = match r.get("content") {
                Some(Value::Object(c)) => self.media(compiler, &r_at.child("content"), c),
                Some(_) => {
                    self.error(
                        &r_at.child("content"),
                        "content must be an object keyed by media type",
                    );
                    Vec::new()
                }
                None => Vec::new(),
            };
            out.push(ResponseSpec { status, media });
        }
        out
    }
}

fn style_fits(style: Style, location: Location) -> bool {
    match location {
        Location::Path => matches!(style, Style::Simple | Style::Label | Style::Matrix),
        Location::Query => matches!(
            style,
            Style::Form | Style::SpaceDelimited | Style::PipeDelimited | Style::DeepObject
        ),
        Location::Header => style == Style::Simple,
        Location::Cookie => style == Style::Form,
    }
}
