//! SecLang, the ModSecurity rule language, as OWASP CRS 4 and its setup files use it.
//!
//! [`load`] reads files (and what they `Include`, globs allowed) into [`RuleSet`]: every
//! directive typed, chains grouped into one rule, `pmFromFile` word lists located. Every problem
//! is reported as `file:line: message`, all of them at once.

pub mod ast;
pub mod lexer;
pub mod parse;
pub mod vocabulary;

use std::fmt;
use std::path::{Path, PathBuf};

use ast::{Directive, Place, Rule, RuleRef};

/// Deepest `Include` nesting followed (also stops include loops).
const MAX_INCLUDE_DEPTH: usize = 16;
/// Largest rule file read.
const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// A loaded rule set, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleSet {
    /// The directives.
    pub directives: Vec<Directive>,
}

impl RuleSet {
    /// The rules (chain heads), in order.
    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.directives.iter().filter_map(|d| match d {
            Directive::Rule(r) => Some(r),
            _ => None,
        })
    }
}

/// One problem in a rule file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line (0: the whole file).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
    }
}

/// Every problem found while loading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadErrors(pub Vec<LoadError>);

impl fmt::Display for LoadErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadErrors {}

/// Loads `files` in order (each may be a glob such as `rules/*.conf`).
pub fn load(files: &[PathBuf]) -> Result<RuleSet, LoadErrors> {
    let mut loader = Loader::default();
    for f in files {
        let place = Place {
            file: f.clone(),
            line: 0,
        };
        loader.include(&place, &f.to_string_lossy(), Path::new(""), 0);
    }
    loader.finish()
}

/// Parses rule text (`file` names it in errors and anchors `Include` and `pmFromFile`).
pub fn parse_str(text: &str, file: &Path) -> Result<RuleSet, LoadErrors> {
    let mut loader = Loader::default();
    loader.text(text, file, 0);
    loader.finish()
}

#[derive(Default)]
struct Loader {
    set: RuleSet,
    errors: Vec<LoadError>,
    /// A chain whose last rule said `chain`: the next directive must be a `SecRule`.
    open_chain: Option<Rule>,
}

impl Loader {
    fn error(&mut self, place: &Place, message: impl Into<String>) {
        self.errors.push(LoadError {
            file: place.file.clone(),
            line: place.line,
            message: message.into(),
        });
    }

    fn finish(mut self) -> Result<RuleSet, LoadErrors> {
        if let Some(rule) = self.open_chain.take() {
            self.error(
                &rule.place,
                "the file ends inside a chain (`chain` needs a following SecRule)",
            );
        }
        if self.errors.is_empty() {
            Ok(self.set)
        } else {
            Err(LoadErrors(self.errors))
        }
    }

    /// `Include pattern` written at `place` (relative to `base`).
    fn include(&mut self, place: &Place, pattern: &str, base: &Path, depth: usize) {
        if depth >= MAX_INCLUDE_DEPTH {
            self.error(
                place,
                format!("Include nested deeper than {MAX_INCLUDE_DEPTH} (a loop?)"),
            );
            return;
        }
        let path = base.join(pattern);
        let files = match expand(&path) {
            Ok(f) if f.is_empty() => {
                self.error(place, format!("{} matches no file", path.display()));
                return;
            }
            Ok(f) => f,
            Err(m) => {
                self.error(place, m);
                return;
            }
        };
        for file in files {
            let text = std::fs::metadata(&file)
                .map_err(|e| e.to_string())
                .and_then(|m| {
                    if m.len() > MAX_FILE_BYTES {
                        Err(format!("larger than {MAX_FILE_BYTES} bytes"))
                    } else {
                        std::fs::read_to_string(&file).map_err(|e| e.to_string())
                    }
                });
            match text {
                Ok(t) => self.text(&t, &file, depth + 1),
                Err(m) => self.error(place, format!("cannot read {}: {m}", file.display())),
            }
        }
    }

    fn text(&mut self, text: &str, file: &Path, depth: usize) {
        let raw = match lexer::directives(text) {
            Ok(r) => r,
            Err((line, message)) => {
                self.errors.push(LoadError {
                    file: file.to_path_buf(),
                    line,
                    message,
                });
                return;
            }
        };
        let base = file.parent().unwrap_or(Path::new("")).to_path_buf();
        for d in raw {
            let place = Place {
                file: file.to_path_buf(),
                line: d.line,
            };
            if let Err(m) = self.directive(&place, &d.name, &d.args, &base, depth) {
                self.error(&place, m);
            }
        }
    }

    fn directive(
        &mut self,
        place: &Place,
        name: &str,
        args: &[String],
        base: &Path,
        depth: usize,
    ) -> Result<(), String> {
        if name != "SecRule" {
            if let Some(open) = self.open_chain.take() {
                self.error(
                    &open.place,
                    format!("chain is followed by {name}, not by a SecRule"),
                );
            }
        }
        let one = |what: &str| -> Result<&String, String> {
            match args {
                [a] => Ok(a),
                _ => Err(format!("{name} takes one argument ({what})")),
            }
        };
        match name {
            "SecRule" => self.rule(place, args, base),
            "SecAction" => {
                let actions = parse::actions(one("actions")?)?;
                self.set
                    .directives
                    .push(Directive::Action(place.clone(), actions));
                Ok(())
            }
            "SecDefaultAction" => {
                let actions = parse::actions(one("actions")?)?;
                self.set
                    .directives
                    .push(Directive::DefaultAction(place.clone(), actions));
                Ok(())
            }
            "SecMarker" => {
                let marker = one("a marker name")?.clone();
                self.set
                    .directives
                    .push(Directive::Marker(place.clone(), marker));
                Ok(())
            }
            "SecRuleUpdateTargetById" | "SecRuleUpdateTargetByTag" => {
                let [which, targets] = args else {
                    return Err(format!(
                        "{name} takes the rules and the targets (replacing a target is not supported)"
                    ));
                };
                let rules = if name.ends_with("ById") {
                    parse::rule_ids(std::slice::from_ref(which))?
                } else {
                    vec![RuleRef::Tag(which.clone())]
                };
                let targets = parse::variables(targets)?;
                for r in rules {
                    self.set.directives.push(Directive::UpdateTarget {
                        place: place.clone(),
                        rules: r,
                        targets: targets.clone(),
                    });
                }
                Ok(())
            }
            "SecRuleRemoveById" => {
                let ids = parse::rule_ids(args)?;
                self.set
                    .directives
                    .push(Directive::Remove(place.clone(), ids));
                Ok(())
            }
            "SecRuleRemoveByTag" => {
                let tag = one("a tag")?.clone();
                self.set
                    .directives
                    .push(Directive::Remove(place.clone(), vec![RuleRef::Tag(tag)]));
                Ok(())
            }
            "Include" | "include" => {
                let pattern = one("a file or glob")?.clone();
                self.include(place, &pattern, base, depth);
                Ok(())
            }
            _ => {
                let Some((_, allowed)) = vocabulary::SETTINGS.iter().find(|(n, _)| *n == name)
                else {
                    return Err(format!("unknown or unsupported directive {name:?}"));
                };
                if args.is_empty() {
                    return Err(format!("{name} needs a value"));
                }
                if let Some(allowed) = allowed {
                    if !allowed.contains(&args[0].as_str()) {
                        return Err(format!("{name} takes one of {}", allowed.join(", ")));
                    }
                }
                self.set.directives.push(Directive::Setting(
                    place.clone(),
                    name.to_owned(),
                    args.to_vec(),
                ));
                Ok(())
            }
        }
    }

    fn rule(&mut self, place: &Place, args: &[String], base: &Path) -> Result<(), String> {
        let (targets, operator, actions) = match args {
            [t, o] => (t, o, None),
            [t, o, a] => (t, o, Some(a)),
            _ => return Err("SecRule takes targets, an operator and actions".into()),
        };
        let variables = parse::variables(targets)?;
        let operator = parse::operator(operator)?;
        if operator.name == "pmFromFile" {
            for word_file in operator.argument.split_whitespace() {
                if !base.join(word_file).is_file() {
                    return Err(format!(
                        "@pmFromFile: {} not found",
                        base.join(word_file).display()
                    ));
                }
            }
        }
        let actions = match actions {
            Some(a) => parse::actions(a)?,
            None => Vec::new(),
        };
        let chains = actions.iter().any(|a| a.name == "chain");
        let rule = Rule {
            place: place.clone(),
            variables,
            operator,
            actions,
            chained: None,
        };
        let head = match self.open_chain.take() {
            Some(mut head) => {
                let mut tail = &mut head;
                while tail.chained.is_some() {
                    tail = tail.chained.as_mut().expect("checked");
                }
                tail.chained = Some(Box::new(rule));
                head
            }
            None => {
                if rule.id().is_none() {
                    return Err("a rule needs an id action".into());
                }
                rule
            }
        };
        if chains {
            self.open_chain = Some(head);
        } else {
            self.set.directives.push(Directive::Rule(head));
        }
        Ok(())
    }
}

/// The files a path matches: itself, or (with `*` or `?` in its last component) the sorted
/// files of its folder whose names match.
fn expand(path: &Path) -> Result<Vec<PathBuf>, String> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !name.contains(['*', '?']) {
        return Ok(if path.is_file() {
            vec![path.to_path_buf()]
        } else {
            Vec::new()
        });
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    let mut out: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| glob_match(name.as_bytes(), n.to_string_lossy().as_bytes()))
        })
        .collect();
    out.sort();
    Ok(out)
}

/// `*` and `?` wildcard matching.
fn glob_match(pattern: &[u8], name: &[u8]) -> bool {
    match (pattern.first(), name.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            glob_match(&pattern[1..], name) || (!name.is_empty() && glob_match(pattern, &name[1..]))
        }
        (Some(b'?'), Some(_)) => glob_match(&pattern[1..], &name[1..]),
        (Some(p), Some(n)) if p == n => glob_match(&pattern[1..], &name[1..]),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_are_grouped_and_errors_carry_their_line() {
        let text = "SecRule ARGS \"@rx a\" \"id:1,phase:2,chain,block\"\n  SecRule TX:x \"@eq 1\" \"setvar:tx.y=1\"\nSecMarker END\n";
        let set = parse_str(text, Path::new("r.conf")).unwrap();
        let rule = set.rules().next().unwrap();
        assert_eq!(rule.id(), Some(1));
        assert_eq!(rule.chained.as_ref().unwrap().operator.name, "eq");

        let bad = "SecRule ARGS \"@rx a\" \"id:2,chain\"\nSecMarker X\nSecFrobnicate On\nSecRule ARGS \"@nope\" \"id:3\"\nSecRule ARGS \"@rx a\" \"phase:2\"\n";
        let err = parse_str(bad, Path::new("bad.conf"))
            .unwrap_err()
            .to_string();
        for expected in [
            "bad.conf:1: chain is followed by SecMarker",
            "bad.conf:3: unknown or unsupported directive \"SecFrobnicate\"",
            "bad.conf:4: unsupported operator @nope",
            "bad.conf:5: a rule needs an id action",
        ] {
            assert!(err.contains(expected), "{err}");
        }
    }

    #[test]
    fn includes_follow_globs_and_missing_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.conf"), "SecAction \"id:1,pass\"\n").unwrap();
        std::fs::write(dir.path().join("b.conf"), "SecAction \"id:2,pass\"\n").unwrap();
        std::fs::write(dir.path().join("b.data"), "x\n").unwrap();
        std::fs::write(
            dir.path().join("main.conf"),
            "Include *.conf.nope\nInclude ?.conf\n",
        )
        .unwrap();
        let set = load(&[dir.path().join("?.conf")]).unwrap();
        assert_eq!(set.directives.len(), 2);
        let err = load(&[dir.path().join("main.conf")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("main.conf:1:") && err.contains("matches no file"),
            "{err}"
        );
        let missing = parse_str(
            "SecRule ARGS \"@pmFromFile nope.data\" \"id:9\"",
            &dir.path().join("r.conf"),
        )
        .unwrap_err();
        assert!(missing.to_string().contains("nope.data not found"));
        assert!(glob_match(b"REQUEST-*.conf", b"REQUEST-942-X.conf"));
        assert!(!glob_match(b"*.conf", b"x.data"));
    }
}
