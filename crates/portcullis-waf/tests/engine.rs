//! Engine semantics, one small rule set each: chains and MATCHED_VARS, skipAfter, setvar
//! arithmetic and macros, counts, exclusions (`!`, SecRuleUpdateTargetById, ctl), removals,
//! captures, multiMatch, default actions and `block`, and the engine modes.

use std::path::Path;
use std::sync::Arc;

use portcullis_waf::engine::{RequestHead, Transaction, Waf};
use portcullis_waf::seclang;

fn waf(rules: &str) -> Arc<Waf> {
    let set = seclang::parse_str(rules, Path::new("test.conf")).unwrap();
    Arc::new(Waf::compile(&set).unwrap())
}

fn run(waf: &Arc<Waf>, target: &str, headers: &[(&str, &str)], body: &str) -> Transaction {
    let head = RequestHead {
        method: if body.is_empty() { "GET" } else { "POST" }.into(),
        target: target.as_bytes().to_vec(),
        protocol: "HTTP/1.1".into(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect(),
        remote_addr: "127.0.0.1".into(),
    };
    let mut tx = waf.transaction(head);
    if tx.request_headers().is_none() && tx.request_body(body.as_bytes()).is_none() {
        tx.response_headers(200, Vec::new());
        tx.response_body(b"");
    }
    tx.logging();
    tx
}

/// A GET of `/` without headers.
fn bare_get() -> RequestHead {
    RequestHead {
        method: "GET".into(),
        target: b"/".to_vec(),
        protocol: "HTTP/1.1".into(),
        headers: Vec::new(),
        remote_addr: "127.0.0.1".into(),
    }
}

fn ids(tx: &Transaction) -> Vec<u64> {
    tx.logged().iter().map(|l| l.id).collect()
}

#[test]
fn chains_see_the_previous_matches() {
    let w = waf(r#"
SecRule ARGS "@rx ^a" "id:1,phase:1,chain,log,pass"
  SecRule MATCHED_VARS "@rx b$" "setvar:tx.hit=%{MATCHED_VAR_NAME}"
SecRule TX:hit "@endsWith ARGS:x" "id:2,phase:1,log,pass"
"#);
    assert_eq!(ids(&run(&w, "/?x=ab&y=c", &[], "")), [1, 2]);
    assert_eq!(ids(&run(&w, "/?x=ac&y=b", &[], "")), Vec::<u64>::new());
}

#[test]
fn unique_ids_count_after_a_hex_seed_and_statuses_are_decimal() {
    let w = waf(r#"
SecAction "id:1,phase:1,log,pass,logdata:'%{UNIQUE_ID}'"
SecRule UNIQUE_ID "!@rx ^[0-9a-f]{16}[0-9]{8}$" "id:2,phase:1,log,pass"
SecAction "id:3,phase:3,log,pass,logdata:'%{RESPONSE_STATUS}'"
"#);
    let (a, b) = (run(&w, "/", &[], ""), run(&w, "/", &[], ""));
    assert_eq!(ids(&a), [1, 3], "UNIQUE_ID has its shape");
    let (a, b) = (&a.logged()[0].data, &b.logged()[0].data);
    assert_eq!(a[..16], b[..16]);
    let count = |id: &str| id[16..].parse::<u64>().unwrap();
    assert_eq!(count(b), count(a) + 1);
    assert_eq!(run(&w, "/", &[], "").logged()[1].data, "200");
}

#[test]
fn skip_after_jumps_to_its_marker() {
    let w = waf(r#"
SecRule ARGS:skip "@eq 1" "id:1,phase:1,nolog,pass,skipAfter:END"
SecAction "id:2,phase:1,log,pass"
SecMarker END
SecAction "id:3,phase:1,log,pass"
"#);
    assert_eq!(ids(&run(&w, "/?skip=1", &[], "")), [3]);
    assert_eq!(ids(&run(&w, "/?skip=0", &[], "")), [2, 3]);
}

#[test]
fn setvar_arithmetic_macros_and_counts() {
    let w = waf(r#"
SecAction "id:1,phase:1,nolog,pass,setvar:tx.score=2,setvar:tx.add=3"
SecRule ARGS "@rx ." "id:2,phase:1,nolog,pass,setvar:'tx.score=+%{tx.add}'"
SecRule &ARGS "@eq 2" "id:3,phase:1,nolog,pass,setvar:tx.score=-1"
SecRule TX:score "@eq 7" "id:4,phase:1,log,pass"
SecRule &TX:missing "@eq 0" "id:5,phase:1,log,pass"
"#);
    // 2 + 3 per matched argument (two) - 1.
    assert_eq!(ids(&run(&w, "/?a=1&b=2", &[], "")), [4, 5]);
}

#[test]
fn exclusions_updates_removals_and_ctl() {
    let w = waf(r#"
SecRule ARGS|!ARGS:safe "@contains evil" "id:1,phase:2,log,pass"
SecRule ARGS "@contains evil" "id:2,phase:2,log,pass"
SecRuleUpdateTargetById 2 "!ARGS:/^ok_/"
SecRule ARGS "@contains evil" "id:3,phase:2,log,pass"
SecRuleRemoveById 3
SecRule REQUEST_HEADERS:X-Trusted "@streq yes" "id:4,phase:1,nolog,pass,ctl:ruleRemoveTargetById=5;ARGS:comment"
SecRule ARGS "@contains evil" "id:5,phase:2,log,pass"
"#);
    assert_eq!(ids(&run(&w, "/?safe=evil", &[], "")), [2, 5]);
    assert_eq!(ids(&run(&w, "/?ok_1=evil", &[], "")), [1, 5]);
    assert_eq!(
        ids(&run(&w, "/?comment=evil", &[("X-Trusted", "yes")], "")),
        [1, 2]
    );
    // By tag (compared case-insensitively): whole rules, or one target of them.
    let w = waf(r#"
SecRule REQUEST_HEADERS:X-Quiet "@streq yes" "id:10,phase:1,nolog,pass,ctl:ruleRemoveByTag=Noisy"
SecRule REQUEST_HEADERS:X-Free "@streq yes" "id:11,phase:1,nolog,pass,ctl:ruleRemoveTargetByTag=free-text;ARGS:comment"
SecRule ARGS "@contains evil" "id:12,phase:2,log,pass,tag:noisy"
SecRule ARGS "@contains evil" "id:13,phase:2,log,pass,tag:FREE-TEXT"
SecRule ARGS "@contains evil" "id:14,phase:2,log,pass,tag:other"
"#);
    assert_eq!(ids(&run(&w, "/?comment=evil", &[], "")), [12, 13, 14]);
    let quiet = [("X-Quiet", "yes")];
    assert_eq!(ids(&run(&w, "/?comment=evil", &quiet, "")), [13, 14]);
    let free = [("X-Free", "yes")];
    assert_eq!(ids(&run(&w, "/?comment=evil", &free, "")), [12, 14]);
    assert_eq!(ids(&run(&w, "/?other=evil", &free, "")), [12, 13, 14]);
}

#[test]
fn captures_multimatch_and_transformations() {
    let w = waf(r#"
SecRule ARGS:q "@rx (\d+)-(\d+)" "id:1,phase:1,capture,nolog,pass,setvar:tx.range=%{TX.2}..%{TX.1}"
SecRule TX:range "@streq 9..3" "id:2,phase:1,log,pass"
SecRule ARGS:p "@streq <A>" "id:3,phase:1,log,pass,t:urlDecodeUni,t:lowercase,multiMatch"
SecRule ARGS:p "@streq <a>" "id:4,phase:1,log,pass,t:urlDecodeUni,t:lowercase"
"#);
    assert_eq!(ids(&run(&w, "/?q=3-9&p=%253CA%253E", &[], "")), [2, 3, 4]);
}

#[test]
fn default_actions_block_and_modes() {
    let rules = r#"
SecDefaultAction "phase:2,log,deny,status:418,t:lowercase"
SecRule ARGS "@streq bad" "id:1,phase:2,block"
"#;
    let on = waf(&format!("SecRuleEngine On\n{rules}"));
    let tx = run(&on, "/?x=BAD", &[], "");
    assert_eq!(
        tx.interruption().map(|i| (i.status, i.rule_id)),
        Some((418, 1))
    );
    let detect = waf(&format!("SecRuleEngine DetectionOnly\n{rules}"));
    let tx = run(&detect, "/?x=BAD", &[], "");
    assert!(tx.interruption().is_none());
    assert_eq!(ids(&tx), [1]);
    let off = waf(&format!("SecRuleEngine Off\n{rules}"));
    assert!(ids(&run(&off, "/?x=BAD", &[], "")).is_empty());
}

#[test]
fn body_processors_feed_args() {
    let w = waf(r#"
SecRule REQUEST_HEADERS:Content-Type "^application/json" "id:1,phase:1,nolog,pass,ctl:requestBodyProcessor=JSON"
SecRule ARGS:json.user.name "@streq ann" "id:2,phase:2,log,pass"
SecRule ARGS:json.tags.array_1 "@streq b" "id:3,phase:2,log,pass"
SecRule ARGS_POST:field "@streq v" "id:4,phase:2,log,pass"
SecRule FILES "@endsWith .php" "id:5,phase:2,log,pass"
SecRule XML:/* "@contains hello" "id:6,phase:2,log,pass"
"#);
    let json = [("Content-Type", "application/json")];
    assert_eq!(
        ids(&run(
            &w,
            "/",
            &json,
            r#"{"user":{"name":"ann"},"tags":["a","b"]}"#
        )),
        [2, 3]
    );
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    assert_eq!(ids(&run(&w, "/", &form, "field=v")), [4]);
    let multipart = [("Content-Type", "multipart/form-data; boundary=b")];
    let body = "--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.php\"\r\n\r\n<?php\r\n--b--\r\n";
    assert_eq!(ids(&run(&w, "/", &multipart, body)), [5]);
    let w = waf(r#"
SecRule REQUEST_HEADERS:Content-Type "^text/xml" "id:1,phase:1,nolog,pass,ctl:requestBodyProcessor=XML"
SecRule XML:/* "@contains hello" "id:6,phase:2,log,pass"
"#);
    assert_eq!(
        ids(&run(
            &w,
            "/",
            &[("Content-Type", "text/xml")],
            "<a><b>hello</b></a>"
        )),
        [6]
    );
}

#[test]
fn load_errors_name_file_and_line() {
    let set = seclang::parse_str(
        "SecRule ARGS \"@rx a\" \"id:1,phase:2,setvar:ip.x=1\"\nSecRule ARGS \"@rx a\" \"id:2,msg:'%{nope.x}'\"\n",
        Path::new("bad.conf"),
    )
    .unwrap();
    let errors = Waf::compile(&set).unwrap_err().to_string();
    assert!(
        errors.contains("bad.conf:1: setvar:ip.x=1: only the TX collection"),
        "{errors}"
    );
    assert!(
        errors.contains("bad.conf:2: macro %{nope.x} names an unknown variable"),
        "{errors}"
    );
}

#[test]
fn tx_names_spelled_out_and_made_from_macros_are_one_variable() {
    // Names written in the rules are numbered at load; a name a macro builds at run time
    // (`tx.%{tx.kind}`) must reach the same variable when it spells the same name, in any
    // case, for reading, counting, iterating, macros and deletion alike.
    let w = waf(r#"
SecRule ARGS:kind "@rx ^.+$" "id:1,phase:1,nolog,pass,capture,setvar:tx.kind=%{tx.0}"
SecAction "id:2,phase:1,nolog,pass,setvar:tx.%{tx.kind}=7"
SecRule TX:score "@eq 7" "id:3,phase:1,log,pass,msg:'score %{tx.score}'"
SecRule TX:/^sco/ "@eq 7" "id:4,phase:1,log,pass"
SecRule &TX:score "@eq 1" "id:5,phase:1,log,pass"
SecAction "id:6,phase:1,nolog,pass,setvar:tx.%{tx.kind}=+1"
SecRule TX:score "@eq 8" "id:7,phase:1,log,pass"
SecAction "id:8,phase:1,nolog,pass,setvar:!tx.%{tx.kind}"
SecRule &TX:score "@eq 0" "id:9,phase:1,log,pass"
SecAction "id:10,phase:1,nolog,pass,setvar:tx.x_spelled=1,setvar:tx.x_%{tx.kind}=2"
SecRule &TX:/^X_/ "@eq 2" "id:11,phase:1,log,pass,chain"
  SecRule TX:/^x_/ "@eq 2" "setvar:tx.last=%{MATCHED_VAR_NAME}"
SecRule TX:last "@streq TX:x_score" "id:12,phase:1,log,pass"
"#);
    // A selector finds numbered and made names alike, in name order.
    let tx = run(&w, "/?kind=SCORE", &[], "");
    assert_eq!(ids(&tx), [3, 4, 5, 7, 9, 11, 12]);
    assert_eq!(tx.logged()[0].msg, "score 7");
    // A name no rule spells out is kept too, and found by its spelling.
    let tx = run(&w, "/?kind=other", &[], "");
    assert_eq!(ids(&tx), [9, 11]);
    assert_eq!(tx.tx("OTHER"), None, "deleted by id 8");
    let w = waf(r#"
SecRule ARGS:kind "@rx ^.+$" "id:1,phase:1,nolog,pass,capture,setvar:tx.kind=%{tx.0}"
SecAction "id:2,phase:1,nolog,pass,setvar:tx.%{tx.kind}=7"
"#);
    assert_eq!(
        run(&w, "/?kind=Other", &[], "").tx("other"),
        Some(&b"7"[..])
    );
}

#[test]
fn a_transaction_inherits_nothing_from_the_ones_before() {
    // Finished transactions hand their memory (TX map, memo of transformed values, hit and
    // MATCHED_VARS slots, buffers of single values) to the next ones: none of their content
    // may show through.
    let w = waf(r#"
SecRule ARGS:a "@rx x" "id:1,phase:1,pass,nolog,setvar:tx.seen=1"
SecRule TX:seen "@eq 1" "id:2,phase:1,log,pass"
SecRule ARGS "@rx ^zzzz$" "id:3,phase:1,log,pass,t:lowercase"
SecRule ARGS "@rx ^yyyy$" "id:4,phase:1,log,pass,t:lowercase"
SecRule ARGS "@rx ^xxxx$" "id:5,phase:1,log,pass,t:lowercase"
SecRule REQUEST_BODY|REQUEST_URI "@rx secret" "id:6,phase:2,log,pass"
SecRule ARGS "@rx ^m" "id:7,phase:2,log,pass,chain"
    SecRule MATCHED_VARS "@streq m3"
"#);
    assert_eq!(ids(&run(&w, "/?a=x&b=ZZZZ", &[], "")), [2, 3]);
    // The same value ids now name other values.
    assert_eq!(ids(&run(&w, "/?b=YYYY", &[], "")), [4]);
    assert_eq!(ids(&run(&w, "/?a=XXXX&b=ZZZZ", &[], "")), [3, 5]);
    // Transactions alive at the same time each have their own.
    let first = run(&w, "/?a=x&b=YYYY", &[], "");
    let second = run(&w, "/?c=XXXX", &[], "");
    assert_eq!((ids(&first), ids(&second)), (vec![2, 4], vec![5]));
    // Single values (the body, the URI) keep their buffers, never their contents.
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    assert_eq!(ids(&run(&w, "/", &form, "b=secret")), [6]);
    assert_eq!(ids(&run(&w, "/", &[], "")), Vec::<u64>::new());
    // MATCHED_VARS keeps its slots, never the matches in them.
    assert_eq!(ids(&run(&w, "/?p=m1&q=m2&r=m3", &[], "")), [7]);
    assert_eq!(ids(&run(&w, "/?p=m1", &[], "")), Vec::<u64>::new());
}

#[test]
fn phrase_lists_answer_from_the_response_filter_negated_or_not() {
    // Response rules sharing a chain: its literal filter answers for them, the negated list
    // too (a phrase list's answer is exact); the others are passed over when the filter
    // rules out every value they read (see `engine::summaries`).
    let w = waf(r#"
SecResponseBodyAccess On
SecRule RESPONSE_BODY "!@pm alpha beta" "id:20,phase:4,pass,log"
SecRule RESPONSE_BODY "@pm gamma" "id:21,phase:4,pass,log"
SecRule RESPONSE_BODY "@rx delta+" "id:22,phase:4,pass,log"
SecRule RESPONSE_HEADERS|RESPONSE_BODY "@rx epsilon" "id:23,phase:4,pass,log"
SecRule RESPONSE_BODY "@pm gamma" "id:24,phase:4,pass,log,chain"
    SecRule RESPONSE_BODY "@rx omega"
"#);
    // Every link but the negated list is passed over by its targets' summaries when the
    // filter rules the body out.
    assert_eq!(w.summarised_count(), 5);
    let answer = |body: &str| {
        let mut tx = w.transaction(bare_get());
        tx.request_headers();
        tx.request_body(b"");
        tx.response_headers(
            200,
            vec![(b"Content-Type".to_vec(), b"text/plain".to_vec())],
        );
        tx.response_body(body.as_bytes());
        tx.logging();
        ids(&tx)
    };
    assert_eq!(answer("nothing to see"), [20]);
    assert_eq!(answer("the BETA release"), Vec::<u64>::new());
    assert_eq!(answer("Gamma, then alpha"), [21]);
    assert_eq!(answer("deltaaa"), [20, 22]);
    assert_eq!(answer("epsilon"), [20, 23]);
    assert_eq!(answer("gamma and omega"), [20, 21, 24]);
    assert_eq!(answer("gamma alone"), [20, 21]);
}

#[test]
fn rules_decided_at_load_behave_as_evaluated() {
    // Rules that read only TX values no request reaches are decided when the rules load
    // (folded); every request must see what evaluating them gives: the same rules logged, the
    // same TX. Each way request data can reach a TX name is tried: a value (4), a name built
    // by a macro (6), a skip around a write (8), and a `ctl` removing a decided rule (20).
    // A chain is decided by its first link when that does not match (14), and not when it
    // does (15: the rest reads the request).
    let rules = r#"
SecRule ARGS:remove "@eq 1" "id:20,phase:1,nolog,pass,ctl:ruleRemoveById=2"
SecAction "id:1,phase:1,nolog,pass,setvar:tx.pl=1,setvar:tx.threshold=5,setvar:tx.score=0,setvar:tx.mode=on"
SecRule TX:pl "@lt 2" "id:2,phase:1,nolog,pass,skipAfter:END-PL2"
SecRule ARGS "@rx ." "id:3,phase:1,log,pass,setvar:tx.score=+5"
SecMarker END-PL2
SecRule REQUEST_HEADERS:x-pl "@rx ^\d$" "id:4,phase:1,nolog,pass,setvar:tx.pl=%{MATCHED_VAR}"
SecRule TX:pl "@ge 3" "id:5,phase:1,log,pass"
SecRule REQUEST_HEADERS:x-name "@rx ^\w+$" "id:6,phase:1,nolog,pass,setvar:tx.thr%{MATCHED_VAR}=1"
SecRule TX:threshold "@eq 1" "id:7,phase:2,log,pass"
SecRule ARGS:skip "@eq 1" "id:8,phase:2,nolog,pass,skipAfter:SKIPPED"
SecAction "id:9,phase:2,nolog,pass,setvar:tx.score=+1"
SecMarker SKIPPED
SecRule TX:score "@eq 1" "id:10,phase:2,nolog,pass,setvar:tx.one=1"
SecRule TX:one "@eq 1" "id:13,phase:2,log,pass"
SecRule TX:mode "@streq on" "id:12,phase:2,log,pass"
SecRule TX:mode "@streq on" "id:11,phase:5,nolog,pass,setvar:tx.done=1"
SecRule TX:mode "@streq off" "id:14,phase:2,log,pass,chain"
    SecRule ARGS "@rx ." "setvar:tx.chained=1"
SecRule TX:mode "@streq on" "id:15,phase:2,log,pass,chain"
    SecRule ARGS:b "@rx ." "setvar:tx.chained=2"
"#;
    let folded = waf(rules);
    let mut plain =
        Waf::compile(&seclang::parse_str(rules, Path::new("test.conf")).unwrap()).unwrap();
    plain.unfold();
    let plain = Arc::new(plain);
    // 1, 2, 9, 11 and 14 are decided and skipped; 3 is then never reached; 12 is decided but
    // logs, so it still runs.
    assert_eq!(folded.folded_count(), 5);
    assert_eq!(plain.folded_count(), 0);
    // Request target, headers, the rules that log.
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a [u64]);
    let cases: [Case; 7] = [
        ("/?a=1", &[], &[13, 12]),
        ("/?b=1", &[], &[13, 12, 15]),
        ("/?a=1&remove=1", &[], &[3, 12]),
        ("/?skip=1", &[], &[12]),
        ("/", &[("x-pl", "4")], &[5, 13, 12]),
        ("/", &[("x-name", "eshold")], &[7, 13, 12]),
        ("/?skip=1", &[("x-name", "other")], &[12]),
    ];
    for (target, headers, expected) in cases {
        let a = run(&folded, target, headers, "");
        let b = run(&plain, target, headers, "");
        assert_eq!(ids(&a), expected, "{target} {headers:?}");
        assert_eq!(ids(&a), ids(&b), "{target} {headers:?}");
        for name in [
            "pl",
            "threshold",
            "score",
            "one",
            "mode",
            "done",
            "throther",
            "chained",
        ] {
            assert_eq!(a.tx(name), b.tx(name), "tx.{name} for {target} {headers:?}");
        }
        assert_eq!(a.tx("done"), Some(&b"1"[..]));
    }
}

#[test]
fn rules_reading_only_empty_variables_are_skipped_as_if_evaluated() {
    // A rule whose variables hold no value is skipped without being evaluated, and a rule's
    // variables that hold none are not walked; counts still count (zero) and a value set by a
    // `ctl` earlier in the same phase is seen (4, 7).
    let w = waf(r#"
SecRule &ARGS "@eq 0" "id:1,phase:1,log,pass"
SecRule ARGS|REQUEST_COOKIES "!@rx x" "id:2,phase:1,log,pass"
SecRule REQUEST_HEADERS:Content-Type "^application/json" "id:3,phase:1,pass,nolog,ctl:requestBodyProcessor=JSON"
SecRule REQBODY_PROCESSOR "@streq JSON" "id:4,phase:1,log,pass"
SecRule ARGS|REQBODY_PROCESSOR "@streq JSON" "id:7,phase:1,log,pass"
SecRule XML:/* "@rx ." "id:5,phase:2,log,pass"
SecRule ARGS_POST "@rx ." "id:6,phase:2,log,pass"
"#);
    assert_eq!(ids(&run(&w, "/", &[], "")), [1]);
    assert_eq!(ids(&run(&w, "/?a=b", &[], "")), [2]);
    let json = [("Content-Type", "application/json")];
    assert_eq!(ids(&run(&w, "/", &json, r#"{"a":"b"}"#)), [1, 4, 7, 6]);
}

#[test]
fn response_bodies_are_read_by_media_type_whatever_its_case_and_parameters() {
    let w = waf(r#"
SecResponseBodyAccess On
SecResponseBodyMimeType text/plain application/json
SecRule RESPONSE_BODY "@rx secret" "id:30,phase:4,pass,log"
"#);
    let logged = |content_type: Option<&str>| {
        let mut tx = w.transaction(bare_get());
        tx.request_headers();
        tx.request_body(b"");
        let headers = content_type
            .map(|ct| vec![(b"content-type".to_vec(), ct.as_bytes().to_vec())])
            .unwrap_or_default();
        tx.response_headers(200, headers);
        tx.response_body(b"the secret");
        ids(&tx)
    };
    assert_eq!(logged(Some("application/json")), [30]);
    assert_eq!(logged(Some("Application/JSON; charset=utf-8")), [30]);
    assert_eq!(logged(Some("  text/plain ;q=1")), [30]);
    // No Content-Type: taken as text/plain, as ModSecurity does.
    assert_eq!(logged(None), [30]);
    assert_eq!(logged(Some("text/html")), Vec::<u64>::new());
    assert_eq!(logged(Some("application/jsonx")), Vec::<u64>::new());
    assert_eq!(logged(Some("")), Vec::<u64>::new());
}
