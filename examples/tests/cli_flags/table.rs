//! Every flag of every `argus` subcommand, at least once.
//!
//! The rows run in order (later ones use the sessions and files earlier ones made), each against
//! the demo models or a replayed model. Placeholders in braces are filled in by the runner:
//! `{mllama}` and `{gguf}` (the demo models), `{image}` (a PNG), `{replay}` (recorded answers),
//! `{record}` (a recording to write), `{db}` (a SQLite file), `{work}` (a workspace directory),
//! `{cache}` (a conversion cache), `{suite}` (a one-case eval suite), `{export}` (a session export),
//! `{api}` (the API base of mistral.rs's OpenAI-compatible server on a tiny mllama), `{mcp}` (the
//! command starting the MCP reference server `server-everything`).
//!
//! The binary's unit tests check that every flag clap defines appears in some row of its
//! subcommand, and that every row parses, so a new flag must join this table.

/// One command line and how it must end.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Row {
    /// The arguments after `argus`, with placeholders.
    pub(crate) args: &'static [&'static str],
    /// Standard input.
    pub(crate) stdin: &'static str,
    /// The exit code it must end with.
    pub(crate) exit: i32,
}

const fn row(args: &'static [&'static str]) -> Row {
    Row {
        args,
        stdin: "",
        exit: 0,
    }
}

/// An MCP client's side of a stdio session: the handshake, a listing, and a call of
/// `write_file` (allowed by the row); the session ends with the input.
const MCP_SESSION: &str = concat!(
    r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"table","version":"0"}}}"#,
    "\n",
    r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
    "\n",
    r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#,
    "\n",
    r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"write_file","arguments":{"path":"mcp.txt","content":"hi"}}}"#,
    "\n",
);

/// The table.
pub(crate) const ROWS: &[Row] = &[
    row(&["demo-model", "{work}/demo"]),
    row(&["models", "list"]),
    Row {
        exit: 4,
        ..row(&["models", "convert", "{gguf}", "{work}/converted"])
    },
    Row {
        stdin: "[add(a=1, b=2)]",
        ..row(&["parse", "--format", "pythonic"])
    },
    // Model selection, once per quantisation value, on the real engine.
    row(&[
        "run",
        "--model",
        "{mllama}",
        "--isq",
        "q4k",
        "--max-tokens",
        "4",
        "hi",
    ]),
    row(&[
        "run",
        "--model",
        "{mllama}",
        "--isq",
        "q5k",
        "--max-tokens",
        "4",
        "hi",
    ]),
    row(&[
        "run",
        "--model",
        "{mllama}",
        "--isq",
        "q6k",
        "--max-tokens",
        "4",
        "hi",
    ]),
    row(&[
        "run",
        "--model",
        "{mllama}",
        "--isq",
        "q8_0",
        "--max-tokens",
        "4",
        "hi",
    ]),
    row(&[
        "run",
        "--model",
        "{mllama}",
        "--isq",
        "none",
        "--max-tokens",
        "4",
        "hi",
    ]),
    row(&[
        "run",
        "--model",
        "{mllama}",
        "--tool-format",
        "llama32_pythonic",
        "--tool-choice",
        "required",
        // The observing step (perceive-then-act, mllama's default), the forced call, the answer.
        "--max-steps",
        "3",
        "--max-tokens",
        "256",
        "--workspace",
        "{work}",
        "--image",
        "{image}",
        "--record",
        "{record}",
        "--json",
        "What is 2 + 2?",
    ]),
    row(&[
        "run",
        "--model",
        "{gguf}",
        "--convert-cache",
        "{cache}",
        "--no-tools",
        "--max-tokens",
        "4",
        "hi",
    ]),
    // Raw completion in a chat session.
    Row {
        stdin: "Water is made of hydrogen and\n/quit\n",
        ..row(&[
            "chat",
            "--model",
            "{gguf}",
            "--raw",
            "--no-tools",
            "--db",
            "{db}",
            "--session",
            "completions",
            "--max-tokens",
            "4",
        ])
    },
    // The device (the CPU is in every build) and raw completion (no chat template).
    row(&[
        "run",
        "--model",
        "{gguf}",
        "--device",
        "cpu",
        "--raw",
        "--no-tools",
        "--max-tokens",
        "4",
        "Water is made of hydrogen and",
    ]),
    // MCP servers' tools beside the built-in ones: the reference server over stdio.
    row(&[
        "run",
        "--replay",
        "{replay}",
        "--mcp",
        "everything={mcp}",
        "hi",
    ]),
    Row {
        stdin: "hi\n/quit\n",
        ..row(&["chat", "--replay", "{replay}", "--mcp", "everything={mcp}"])
    },
    Row {
        exit: 3,
        ..row(&[
            "run",
            "--replay",
            "{replay}",
            "--mcp",
            "gone=/nonexistent/server",
            "hi",
        ])
    },
    row(&["mcp", "list", "everything={mcp}"]),
    row(&["mcp", "list", "--json", "everything={mcp}"]),
    // Spans exported over OTLP with their contents, to a collector that is not there: one
    // warning, and the run ends as it would without it.
    row(&[
        "--otlp",
        "http://127.0.0.1:9",
        "--trace-contents",
        "run",
        "--replay",
        "{replay}",
        "hi",
    ]),
    // The agent's own flags, on a replayed model.
    row(&[
        "run",
        "--replay",
        "{replay}",
        "--db",
        "{db}",
        "--session",
        "notes",
        "--system",
        "Answer briefly.",
        "--tool-choice",
        "auto",
        "--vision-strategy",
        "perceive-then-act",
        "--yes",
        "What is 2 + 2?",
    ]),
    Row {
        stdin: "What is 2 + 2?\n/quit\n",
        ..row(&[
            "chat",
            "--replay",
            "{replay}",
            "--db",
            "sqlite://{db}",
            "--session",
            "notes",
            "--system",
            "Answer briefly.",
            "--workspace",
            "{work}",
            "--tool-choice",
            "none",
            "--max-steps",
            "2",
            "--max-tokens",
            "16",
            "--no-tools",
            "--yes",
        ])
    },
    Row {
        stdin: "hi\n/quit\n",
        ..row(&[
            "chat",
            "--model",
            "{mllama}",
            "--device",
            "auto",
            "--isq",
            "q4k",
            "--tool-format",
            "llama31_json",
            "--convert-cache",
            "{cache}",
            "--record",
            "{work}/chat.jsonl",
            "--db",
            "{db}",
            "--vision-strategy",
            "direct",
            "--max-tokens",
            "4",
        ])
    },
    row(&[
        "eval",
        "--model",
        "{mllama}",
        "--device",
        "cpu",
        "--isq",
        "q8_0",
        "--tool-format",
        "llama32_pythonic",
        "--convert-cache",
        "{cache}",
        "--record",
        "{work}/eval.jsonl",
        "--suite",
        "{suite}",
        "--modes",
        "free",
        "constrained",
        "--max-tokens",
        "8",
        "--json",
    ]),
    row(&[
        "eval", "--replay", "{replay}", "--suite", "{suite}", "--modes", "free",
    ]),
    // An MCP server's tools offered beside the suite's.
    row(&[
        "eval",
        "--replay",
        "{replay}",
        "--suite",
        "{suite}",
        "--modes",
        "free",
        "--mcp",
        "everything={mcp}",
    ]),
    // The vision suite, one strategy (both: examples/tests/cli.rs).
    row(&[
        "eval",
        "--model",
        "{mllama}",
        "--vision",
        "--vision-strategy",
        "perceive-then-act",
        "--max-tokens",
        "4",
    ]),
    // A model on an OpenAI-compatible server ({api}: mistral.rs's server on the tiny mllama).
    row(&[
        "run",
        "--api-base",
        "{api}",
        "--model",
        "default",
        "--api-key-env",
        "ARGUS_TEST_UNSET_KEY",
        "--tool-calls",
        "native",
        "--context-length",
        "4096",
        "--no-tools",
        "--max-tokens",
        "4",
        "hi",
    ]),
    Row {
        stdin: "hi\n/quit\n",
        ..row(&[
            "chat",
            "--api-base",
            "{api}",
            "--model",
            "default",
            "--api-key-env",
            "ARGUS_TEST_UNSET_KEY",
            "--tool-calls",
            "text",
            "--context-length",
            "4096",
            "--max-tokens",
            "4",
        ])
    },
    row(&[
        "eval",
        "--api-base",
        "{api}",
        "--model",
        "default",
        "--api-key-env",
        "ARGUS_TEST_UNSET_KEY",
        "--tool-calls",
        "text",
        "--context-length",
        "4096",
        "--suite",
        "{suite}",
        "--modes",
        "free",
        "--max-tokens",
        "8",
    ]),
    // Sessions, on the database the runs above wrote.
    row(&["sessions", "--db", "{db}", "list", "--json"]),
    row(&["sessions", "--db", "{db}", "show", "notes"]),
    row(&[
        "sessions",
        "--db",
        "{db}",
        "search",
        "2",
        "--session",
        "notes",
        "--limit",
        "3",
    ]),
    row(&[
        "sessions", "--db", "{db}", "export", "notes", "--out", "{export}",
    ]),
    row(&["sessions", "--db", "{db}", "delete", "notes"]),
    row(&["sessions", "--db", "{db}", "import", "{export}"]),
    // Copying sessions between databases (PostgreSQL: examples/tests/postgres.rs), with the
    // PostgreSQL settings, which SQLite ignores.
    row(&[
        "sessions",
        "--db",
        "{db}",
        "--db-pool",
        "2",
        "--db-statement-timeout",
        "5",
        "--db-connect-timeout",
        "3",
        "copy",
        "--to",
        "{work}/copy.db",
    ]),
    // A session the destination has is skipped.
    row(&[
        "sessions",
        "copy",
        "--from",
        "sqlite://{db}",
        "--to",
        "{work}/copy.db",
        "notes",
    ]),
    // A URL of a database this build cannot store memory in is a usage error, not a file name.
    Row {
        exit: 2,
        ..row(&["sessions", "--db", "mysql://argus@localhost/argus", "list"])
    },
    Row {
        exit: 2,
        ..row(&[
            "sessions",
            "copy",
            "--from",
            "{db}",
            "--to",
            "mariadb://u:p@h/db",
        ])
    },
    Row {
        exit: 2,
        ..row(&[
            "run",
            "--replay",
            "{replay}",
            "--db",
            "mysql://u:p@h/db",
            "hi",
        ])
    },
    // Waiting for a busy session, and the PostgreSQL settings with SQLite (ignored).
    row(&[
        "run",
        "--replay",
        "{replay}",
        "--db",
        "{db}",
        "--db-pool",
        "2",
        "--db-statement-timeout",
        "0",
        "--db-connect-timeout",
        "3",
        "--session",
        "waiting",
        "--session-wait",
        "1.5",
        "hi",
    ]),
    Row {
        stdin: "hi\n/quit\n",
        ..row(&[
            "chat",
            "--replay",
            "{replay}",
            "--db",
            "{db}",
            "--db-pool",
            "2",
            "--db-statement-timeout",
            "5",
            "--db-connect-timeout",
            "3",
            "--session",
            "waiting",
            "--session-wait",
            "1",
        ])
    },
    // The built-in tools over MCP on stdio.
    Row {
        stdin: MCP_SESSION,
        ..row(&[
            "mcp",
            "serve",
            "--workspace",
            "{work}",
            "--allow",
            "write_file",
        ])
    },
    // Streamable HTTP listens on loopback addresses only: the server has no authentication.
    Row {
        exit: 2,
        ..row(&["mcp", "serve", "--http", "0.0.0.0:0"])
    },
    // `argus serve` refuses a non-loopback address without a token before loading anything,
    // so these rows check that its flags parse and end at once.
    Row {
        exit: 2,
        ..row(&[
            "serve",
            "--bind",
            "0.0.0.0:0",
            "--model",
            "{mllama}",
            "--isq",
            "q4k",
            "--device",
            "cpu",
            "--convert-cache",
            "{cache}",
            "--tool-format",
            "llama32_pythonic",
            "--vision-strategy",
            "direct",
            "--mcp",
            "everything={mcp}",
            "--allow",
            "write_file",
        ])
    },
    Row {
        exit: 2,
        ..row(&[
            "serve",
            "--bind",
            "0.0.0.0:0",
            "--api-base",
            "{api}",
            "--model",
            "served",
            "--api-key-env",
            "OPENAI_API_KEY",
            "--tool-calls",
            "native",
            "--context-length",
            "4096",
        ])
    },
    Row {
        exit: 2,
        ..row(&[
            "serve",
            "--bind",
            "0.0.0.0:0",
            "--replay",
            "{replay}",
            "--record",
            "{record}",
            "--db",
            "{db}",
            "--db-pool",
            "2",
            "--db-statement-timeout",
            "0",
            "--db-connect-timeout",
            "3",
            "--session-wait",
            "1",
            "--system",
            "Be brief.",
            "--workspace",
            "{work}",
            "--no-tools",
            "--tool-choice",
            "auto",
            "--max-steps",
            "2",
            "--max-tokens",
            "16",
            "--yes",
            "--raw",
        ])
    },
    // With a token it would serve: a missing workspace ends it first (not found).
    Row {
        exit: 3,
        ..row(&[
            "serve",
            "--token",
            "s3cret",
            "--replay",
            "{replay}",
            "--workspace",
            "/nonexistent/workspace",
        ])
    },
];
