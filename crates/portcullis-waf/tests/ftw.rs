//! The go-ftw runner judges: each expectation can fail, and fails with its reason; a stage the
//! strict server refuses is a 400; the reflecting backend answers as asked; a file it cannot
//! read, or an expectation it does not know, is a failure, never a silent pass.

use std::sync::Arc;

use portcullis_waf::engine::Waf;

const RULES: &str = r#"SecRuleEngine DetectionOnly
SecRequestBodyAccess On
SecResponseBodyAccess On
SecRule ARGS:q "@contains evil" "id:1,phase:2,log,pass,msg:'evil found',logdata:'in %{MATCHED_VAR_NAME}'"
SecRule ARGS:q "@contains evil" "id:2,phase:2,log,pass"
SecRule RESPONSE_BODY "@contains secret" "id:3,phase:4,log,pass"
"#;

const TESTS: &str = r#"
rule_id: 1
tests:
  - test_id: 1
    stages:
      - input: { uri: "/?q=evil", headers: { Host: localhost } }
        output: { log: { expect_ids: [1, 2], match_regex: 'evil found.*in ARGS:q' } }
  - test_id: 2
    stages:
      - input: { uri: "/?q=fine", headers: { Host: localhost } }
        output: { log: { expect_ids: [1] } }
  - test_id: 3
    stages:
      - input: { uri: "/?q=evil", headers: { Host: localhost } }
        output: { log: { no_expect_ids: [2] } }
  - test_id: 4
    stages:
      - input: { uri: "/#frag", headers: { Host: localhost } }
        output: { status: 400 }
  - test_id: 5
    stages:
      - input:
          method: POST
          uri: /reflect
          headers: { Host: localhost, Content-Type: application/json }
          data: '{"status": 201, "body": "a secret"}'
        output: { status: 201, response_contains: 'a secret', log: { expect_ids: [3] } }
  - test_id: 6
    stages:
      - input: { uri: "/?q=evil", headers: { Host: localhost } }
        output: { isolated: true, log: { expect_ids: [1] } }
  - test_id: 7
    stages:
      - input: { uri: "/?q=evil", headers: { Host: localhost } }
        output: { log_contains: 'id "2"', no_log_contains: 'id "3"' }
"#;

const UNKNOWN_EXPECTATION: &str = r#"
rule_id: 9
tests:
  - test_id: 1
    stages:
      - input: { uri: "/", headers: { Host: localhost } }
        output: { frobnicate: true }
"#;

#[test]
fn each_expectation_is_judged() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.conf"), RULES).unwrap();
    std::fs::create_dir(dir.path().join("tests")).unwrap();
    std::fs::write(dir.path().join("tests/1.yaml"), TESTS).unwrap();
    std::fs::write(dir.path().join("tests/broken.yaml"), "tests: [ {").unwrap();
    std::fs::write(dir.path().join("tests/9.yaml"), UNKNOWN_EXPECTATION).unwrap();
    let waf = Arc::new(Waf::load(&[dir.path().join("rules.conf")]).unwrap());
    let report = portcullis_waf::ftw::run(&waf, &dir.path().join("tests")).unwrap();
    let verdict = |name: &str| {
        report
            .outcomes
            .iter()
            .find(|o| o.name == name)
            .unwrap_or_else(|| panic!("{name} not run: {:?}", report.outcomes))
            .failure
            .clone()
    };
    assert_eq!(verdict("1-1"), None);
    assert!(verdict("1-2").unwrap().contains("rule 1 did not match"));
    assert!(verdict("1-3")
        .unwrap()
        .contains("rule 2 matched but must not"));
    assert_eq!(verdict("1-4"), None, "the strict server refuses a fragment");
    assert_eq!(verdict("1-5"), None, "the backend reflects status and body");
    assert!(verdict("1-6")
        .unwrap()
        .contains("isolated: rule 2 matched too"));
    assert_eq!(verdict("1-7"), None);
    assert!(verdict("broken").unwrap().contains("unreadable test file"));
    // An expectation the runner does not know makes its file fail, never pass.
    assert!(verdict("9").unwrap().contains("unreadable test file"));
    assert_eq!(report.passed(), 4, "{:?}", report.outcomes);
}
