//! The settings' parsing: every variable and flag, defaults, and refusals.

use super::*;

#[test]
fn mcp_urls_get_their_path() {
    assert_eq!(
        parse_mcp_url("http://mcp-server:8000").unwrap(),
        "http://mcp-server:8000/mcp"
    );
    assert_eq!(
        parse_mcp_url("http://h:1/custom").unwrap(),
        "http://h:1/custom"
    );
    assert!(parse_mcp_url("mcp-server:8000").is_err());
    assert!(parse_mcp_url("ftp://x").is_err());
}

/// Two settings with one clap id (a field name shared by flattened groups) make
/// one take the other's value, or fail to parse, and clap only asserts against
/// that in debug builds: the tests also run in release.
#[test]
fn every_setting_has_its_own_id() {
    use clap::CommandFactory;
    let command = Settings::command();
    let mut seen = std::collections::BTreeSet::new();
    for arg in command.get_arguments() {
        assert!(
            seen.insert(arg.get_id().as_str().to_owned()),
            "{:?} twice",
            arg.get_id()
        );
    }
    let settings = Settings::for_tests();
    assert_eq!(settings.llm.timeout, Duration::from_secs(60));
}

#[test]
fn secrets_never_print() {
    let settings = Settings::try_parse_from(["server", "--api-key", "hunter2-secret"]).unwrap();
    assert!(!format!("{settings:?}").contains("hunter2"));
}

/// Runs in a child process of this test binary, with the environment set there:
/// setting variables in this multi-threaded process would race other tests.
#[test]
fn for_tests_ignores_the_callers_environment() {
    if std::env::var_os("TOOLSTREAM_CONFIG_CHILD").is_some() {
        // The environment did reach this process: a normal parse sees it.
        let parsed = Settings::try_parse_from(["server"]).unwrap();
        assert_eq!(parsed.port, 4321);
        assert!(parsed.api_key.is_some());
        let settings = Settings::for_tests();
        assert_eq!(settings.port, 0);
        assert!(settings.api_key.is_none());
        assert!(settings.allowed_origins.is_empty());
        assert_eq!(settings.max_iterations, 10);
        assert!(settings.llm.provider.is_none());
        assert!(settings.llm.openai_base_url.is_none());
        assert_eq!(settings.header_read_timeout, Duration::from_secs(10));
        return;
    }
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "config::tests::for_tests_ignores_the_callers_environment",
        ])
        .env("TOOLSTREAM_CONFIG_CHILD", "1")
        .env("PORT", "4321")
        .env("AGENT_API_KEY", "leaked-key")
        .env("ALLOWED_ORIGINS", "null")
        .env("AGENT_MAX_ITERATIONS", "3")
        .env("LLM_PROVIDER", "openai")
        .env("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
        .env("HEADER_READ_TIMEOUT_SECS", "1")
        .status()
        .unwrap();
    assert!(
        status.success(),
        "Settings::for_tests() read the environment"
    );
}

#[test]
fn origins_and_headers_parse() {
    assert_eq!(
        parse_origin("https://Chat.Example.com/").unwrap(),
        "https://chat.example.com"
    );
    assert_eq!(parse_origin("http://h:8002").unwrap(), "http://h:8002");
    assert!(parse_origin("https://h/path").is_err());
    assert!(parse_origin("chat.example.com").is_err());
    assert!(parse_header_name("X-Forwarded-For").is_ok());
    assert!(parse_header_name("bad header").is_err());
    assert!(parse_rate("-1").is_err());
    assert_eq!(parse_rate("0").unwrap(), 0.0);
}

#[test]
fn mcp_settings_parse_and_the_two_toolbox_sources_exclude_each_other() {
    let settings = Settings::try_parse_from([
        "server",
        "--mcp-config",
        "/etc/toolstream/mcp.json",
        "--approval-timeout",
        "2.5",
    ])
    .unwrap();
    assert_eq!(settings.approval_timeout, Duration::from_millis(2500));
    assert_eq!(settings.max_tool_result_chars, 20_000);
    let err = Settings::try_parse_from([
        "server",
        "--mcp-config",
        "a.json",
        "--mcp-server-url",
        "http://h:1",
    ])
    .unwrap_err();
    assert!(err.to_string().contains("--mcp-config"), "{err}");
}

#[test]
fn bad_values_name_the_setting() {
    let err = Settings::try_parse_from(["server", "--port", "99999"]).unwrap_err();
    assert!(err.to_string().contains("--port"), "{err}");
    let err = Settings::try_parse_from(["server", "--tool-timeout", "soon"]).unwrap_err();
    assert!(err.to_string().contains("--tool-timeout"), "{err}");
}
