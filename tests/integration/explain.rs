use crate::harness::Test;

const POLICY: &str = "
    version: 1
    default: private
    rules:
      - match: [\"reports/**\", \"dash-*\"]
        sharing: secret
        filetypes: [plot, dashboard]
      - match: \"scratch/**\"
        sharing: ignore
    ";

#[test]
fn explains_rule_default_and_per_type_differences() {
    Test::new()
        .policy(POLICY)
        .args(["explain", "scratch/tmp", "finance/payroll", "reports/q3/revenue"])
        .stdout(
            "
            scratch/tmp: ignore  (rule 2 \"scratch/**\", plotward.yaml:7:12)
            finance/payroll: private  (no rule matches; the default applies)
            reports/q3/revenue [plot, dashboard]: secret  (rule 1 \"reports/**\", plotward.yaml:4:13)
            reports/q3/revenue [grid, spectacle_presentation]: private  (no rule matches; the default applies)
            ",
        )
        .status(0);
}

#[test]
fn a_given_filetype_gives_one_line() {
    Test::new()
        .policy(POLICY)
        .args(["explain", "--filetype", "dashboard", "dash-ops"])
        .stdout("dash-ops [dashboard]: secret  (rule 1 \"dash-*\", plotward.yaml:4:27)\n")
        .status(0);
    Test::new()
        .policy(POLICY)
        .args(["explain", "--filetype", "fold", "reports"])
        .stdout(
            "reports [fold]: ignore  (a folder no rule names: left as it is, unless a file below it needs it less exposed (plan restricts it then))\n",
        )
        .status(0);
}

#[test]
fn bad_paths_and_filetypes_are_usage_errors() {
    Test::new()
        .policy(POLICY)
        .args(["explain", "/reports/x"])
        .stderr("error: invalid path: path \"/reports/x\" has an empty folder name (leading, trailing or doubled `/`)\n")
        .status(1);
    Test::new()
        .policy(POLICY)
        .args(["explain", "--filetype", "plots", "x"])
        .stderr("error: unknown filetype `plots` (did you mean `plot`?); expected one of plot, grid, dashboard, spectacle_presentation, fold, external_image, html_text, jupyter_notebook\n")
        .status(1);
}

#[test]
fn explain_and_policy_tests_show_control_characters_as_escapes() {
    // `\e` in a double-quoted YAML string is an ESC; `\ec` resets a terminal.
    let policy = "version: 1\ndefault: private\nrules:\n  - match: \"{finance/**,zz\\ec}\"\n    sharing: public\n";
    let run = Test::new()
        .write("plotward.yaml", policy)
        .args(["explain", "finance/payroll"])
        .status(0);
    assert_eq!(
        run.stdout,
        "finance/payroll: public  (rule 1 \"{finance/**,zz\\ec}\", plotward.yaml:4:12)\n"
    );
    let tests =
        "policy: plotward.yaml\ncases:\n  - path: \"finance/x\\e[2J\"\n    expect: private\n";
    Test::new()
        .write("plotward.yaml", policy)
        .write("plotward.test.yaml", tests)
        .args(["test"])
        .stdout_lacks("\u{1b}")
        .stdout_contains("finance/x\\e[2J (plot) gets public")
        .status(1);
}
