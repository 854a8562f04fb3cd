//! Agent-loop tests on the scripted model.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;
// The timing tests run on tokio's paused clock, so they measure virtual time.
use tokio::time::Instant;

use crate::*;

#[derive(Deserialize, JsonSchema)]
struct AddArgs {
    /// First addend.
    a: i64,
    /// Second addend.
    b: i64,
}

#[derive(Deserialize, JsonSchema)]
struct EchoArgs {
    /// Text to repeat.
    text: String,
}

#[derive(Deserialize, JsonSchema)]
struct NoArgs {}

#[derive(Deserialize, JsonSchema)]
struct SleepArgs {
    /// Milliseconds to sleep.
    ms: u64,
}

fn add() -> FnTool {
    tool_fn("add", "Adds two integers.", |x: AddArgs| async move {
        x.a.checked_add(x.b).ok_or("integer overflow")
    })
}

fn echo() -> FnTool {
    tool_fn("echo", "Repeats the text.", |x: EchoArgs| async move {
        Ok::<_, String>(x.text)
    })
}

fn now() -> FnTool {
    tool_fn("now", "The current time.", |_: NoArgs| async move {
        Ok::<_, String>("2026-11-27T10:00:00Z")
    })
}

fn sleeper() -> FnTool {
    tool_fn("sleep", "Sleeps.", |x: SleepArgs| async move {
        tokio::time::sleep(Duration::from_millis(x.ms)).await;
        Ok::<_, String>(x.ms)
    })
}

fn boom() -> FnTool {
    tool_fn("boom", "Panics.", |_: NoArgs| async move {
        let items: Vec<u8> = Vec::new();
        Ok::<_, String>(items[3])
    })
}

fn agent(model: Arc<ScriptedModel>) -> AgentBuilder {
    Agent::builder()
        .shared_model(model)
        .system_prompt("You are a test agent.")
        .tool(add())
        .tool(echo())
        .tool(now())
        .tool(sleeper())
        .tool(boom())
}

fn result_texts(step: &Step) -> Vec<String> {
    step.tool_results().iter().map(Message::text).collect()
}

fn error_kinds(step: &Step) -> Vec<Option<ToolErrorKind>> {
    step.tool_results()
        .iter()
        .map(|m| m.tool_result.as_ref().and_then(|info| info.error))
        .collect()
}

#[tokio::test]
async fn multi_step_run_with_three_tools() {
    let model = Arc::new(
        ScriptedModel::new()
            .then_call("add", json!({"a": 2, "b": 40}))
            .then_call("echo", json!({"text": "forty-two"}))
            .then_call("now", json!({}))
            .then_text("42, said at 10:00."),
    );
    let output = agent(Arc::clone(&model))
        .build()
        .unwrap()
        .run("Add, echo, then tell the time.")
        .await
        .unwrap();
    assert_eq!(output.answer, "42, said at 10:00.");
    let steps = &output.trace.steps;
    assert_eq!(steps.len(), 4);
    assert_eq!(result_texts(&steps[0]), ["42"]);
    assert_eq!(result_texts(&steps[1]), ["forty-two"]);
    assert_eq!(result_texts(&steps[2]), ["2026-11-27T10:00:00Z"]);
    assert_eq!(
        steps.iter().map(|s| s.index).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );

    // The model saw the system prompt, the input, and each call followed by its result.
    let requests = model.requests();
    assert_eq!(requests.len(), 4);
    assert_eq!(requests[0].tools.len(), 5);
    let last = &requests[3].messages;
    assert_eq!(last.len(), 8);
    assert_eq!(last[0].role, Role::System);
    assert_eq!(last[1].text(), "Add, echo, then tell the time.");
    // Each step is one segment, shared by every later request and the trace: nothing is copied.
    for (pair, step) in last.segments().skip(2).zip(steps) {
        let call = &pair[0].tool_calls[0];
        let result = pair[1].tool_result.as_ref().unwrap();
        assert_eq!(result.call_id, call.id);
        assert_eq!(result.name, call.name);
        assert!(Arc::ptr_eq(pair, step.messages()));
    }
    assert!(Arc::ptr_eq(
        requests[1].messages.segments().nth(2).unwrap(),
        steps[0].messages()
    ));
    assert!(Arc::ptr_eq(&requests[0].tools, &requests[3].tools));
}

/// On a paused clock, so the elapsed time is exact however loaded the machine is.
#[tokio::test(start_paused = true)]
async fn calls_of_one_step_run_concurrently_and_keep_their_order() {
    let model = Arc::new(
        ScriptedModel::new()
            .then_calls(vec![
                ToolCall::new("sleep", json!({"ms": 150})),
                ToolCall::new("sleep", json!({"ms": 100})),
                ToolCall::new("sleep", json!({"ms": 50})),
            ])
            .then_text("done"),
    );
    let started = Instant::now();
    let output = agent(model).build().unwrap().run("go").await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(result_texts(&output.trace.steps[0]), ["150", "100", "50"]);
    // Sequential would take 300 ms.
    assert_eq!(elapsed, Duration::from_millis(150));
}

#[tokio::test]
async fn concurrency_is_bounded() {
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (r, p) = (Arc::clone(&running), Arc::clone(&peak));
    let probe = tool_fn("probe", "Counts.", move |_: NoArgs| {
        let (running, peak) = (Arc::clone(&r), Arc::clone(&p));
        async move {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(10)).await;
            running.fetch_sub(1, Ordering::SeqCst);
            Ok::<_, String>(())
        }
    });
    let calls = (0..7).map(|_| ToolCall::new("probe", json!({}))).collect();
    let model = ScriptedModel::new().then_calls(calls).then_text("ok");
    Agent::builder()
        .model(model)
        .tool(probe)
        .tool_concurrency(3)
        .build()
        .unwrap()
        .run("go")
        .await
        .unwrap();
    assert_eq!(peak.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn tool_failures_go_back_to_the_model_as_results() {
    let model = Arc::new(
        ScriptedModel::new()
            .then_calls(vec![
                ToolCall::new("weather", json!({"city": "Paris"})),
                ToolCall::new("add", json!({"a": "two", "b": 2})),
                ToolCall::new("add", json!({"a": i64::MAX, "b": 1})),
            ])
            .then_call("boom", json!({}))
            .then_text("recovered"),
    );
    let output = agent(Arc::clone(&model))
        .max_consecutive_failures(10)
        .build()
        .unwrap()
        .run("try things")
        .await
        .unwrap();
    assert_eq!(output.answer, "recovered");
    let first = &output.trace.steps[0];
    assert_eq!(
        error_kinds(first),
        [
            Some(ToolErrorKind::UnknownTool),
            Some(ToolErrorKind::InvalidArguments),
            Some(ToolErrorKind::Failed),
        ]
    );
    let texts = result_texts(first);
    assert!(texts[0].contains("no tool named `weather`"), "{}", texts[0]);
    assert!(texts[0].contains("add, echo, now, sleep, boom"));
    assert!(texts[1].contains("argument `/a`"), "{}", texts[1]);
    assert!(texts[1].contains("expected integer"), "{}", texts[1]);
    assert_eq!(texts[2], "error (failed): integer overflow");
    let second = &output.trace.steps[1];
    assert_eq!(error_kinds(second), [Some(ToolErrorKind::Panicked)]);
    assert!(result_texts(second)[0].contains("index out of bounds"));
    // The model read the failures.
    let seen = &model.requests()[1].messages;
    assert!(seen.iter().any(|m| m.text().contains("no tool named")));
}

#[tokio::test(start_paused = true)]
async fn a_hanging_tool_times_out() {
    let registry = ToolRegistry::new().with_default_timeout(Duration::from_millis(30));
    let mut registry = registry;
    registry.register(sleeper()).unwrap();
    let model = ScriptedModel::new()
        .then_call("sleep", json!({"ms": 60_000}))
        .then_text("gave up");
    let started = Instant::now();
    let output = Agent::builder()
        .model(model)
        .tools(registry)
        .build()
        .unwrap()
        .run("wait forever")
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the sleep ran out"
    );
    assert_eq!(
        error_kinds(&output.trace.steps[0]),
        [Some(ToolErrorKind::Timeout)]
    );
    assert_eq!(output.answer, "gave up");
}

#[tokio::test]
async fn consecutive_failures_end_the_run_with_the_trace() {
    let model = ScriptedModel::new()
        .then_call("nope", json!({}))
        .then_call("nope", json!({}))
        .then_text("never reached");
    let error = agent(Arc::new(model))
        .max_consecutive_failures(2)
        .build()
        .unwrap()
        .run("fail")
        .await
        .unwrap_err();
    let AgentError::TooManyFailures { failures, trace } = &error else {
        panic!("unexpected {error:?}");
    };
    assert_eq!(*failures, 2);
    assert_eq!(trace.steps.len(), 2);
}

#[tokio::test]
async fn a_success_resets_the_failure_count() {
    let model = ScriptedModel::new()
        .then_call("nope", json!({}))
        .then_call("now", json!({}))
        .then_call("nope", json!({}))
        .then_text("fine");
    let output = agent(Arc::new(model))
        .max_consecutive_failures(2)
        .build()
        .unwrap()
        .run("mixed")
        .await
        .unwrap();
    assert_eq!(output.answer, "fine");
}

#[tokio::test]
async fn the_step_cap_ends_the_run_with_the_trace() {
    let mut model = ScriptedModel::new();
    for _ in 0..10 {
        model = model.then_call("now", json!({}));
    }
    let error = agent(Arc::new(model))
        .max_steps(3)
        .build()
        .unwrap()
        .run("loop")
        .await
        .unwrap_err();
    assert!(matches!(error, AgentError::StepLimit { limit: 3, .. }));
    assert_eq!(error.trace().unwrap().steps.len(), 3);
    assert!(error.to_string().contains("limit of 3"));
}

#[tokio::test(start_paused = true)]
async fn cancellation_stops_a_running_tool_and_the_run() {
    let model = ScriptedModel::new()
        .then_call("sleep", json!({"ms": 60_000}))
        .then_text("never");
    let memory = Arc::new(InMemoryMemory::new());
    let agent = agent(Arc::new(model))
        .shared_memory(memory.clone())
        .session("s")
        .build()
        .unwrap();
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        trigger.cancel();
    });
    let started = Instant::now();
    let error = agent.run_cancellable("wait", cancel).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the sleep ran out"
    );
    let AgentError::Cancelled { trace } = &error else {
        panic!("unexpected {error:?}");
    };
    assert_eq!(
        error_kinds(&trace.steps[0]),
        [Some(ToolErrorKind::Cancelled)]
    );
    // The interrupted step is committed and the run can be resumed.
    let last = memory.last_run(&"s".into()).await.unwrap().unwrap();
    assert_eq!((last.steps, last.finished), (2, false));
    let output = agent.resume().await.unwrap();
    assert_eq!(output.answer, "never");
}

#[tokio::test]
async fn cancellation_interrupts_a_slow_model() {
    let model = ScriptedModel::new().then_after(Duration::from_secs(60), ChatResponse::text("x"));
    let agent = Agent::builder().model(model).build().unwrap();
    let cancel = CancellationToken::new();
    cancel.cancel();
    let error = agent.run_cancellable("hi", cancel).await.unwrap_err();
    assert!(matches!(error, AgentError::Cancelled { .. }));
}

#[tokio::test]
async fn usage_is_summed_per_run() {
    let usage = |p, c| Usage {
        prompt_tokens: p,
        completion_tokens: c,
        ..Usage::default()
    };
    let model = ScriptedModel::new()
        .then(
            ChatResponse::tool_calls(vec![ToolCall::new("now", json!({}))])
                .with_usage(usage(10, 5)),
        )
        .then(ChatResponse::text("t").with_usage(usage(20, 3)));
    let output = agent(Arc::new(model))
        .build()
        .unwrap()
        .run("q")
        .await
        .unwrap();
    assert_eq!(output.trace.usage.prompt_tokens, 30);
    assert_eq!(output.trace.usage.completion_tokens, 8);
}

#[tokio::test]
async fn a_model_error_carries_the_trace() {
    let model = ScriptedModel::new()
        .then_call("now", json!({}))
        .then_error("engine crashed");
    let error = agent(Arc::new(model))
        .build()
        .unwrap()
        .run("q")
        .await
        .unwrap_err();
    let AgentError::Model { source, trace } = &error else {
        panic!("unexpected {error:?}");
    };
    assert!(source.to_string().contains("engine crashed"));
    assert_eq!(trace.steps.len(), 1);
}

#[tokio::test]
async fn unparseable_calls_are_explained_to_the_model() {
    let model = Arc::new(
        ScriptedModel::new()
            .then(ChatResponse {
                malformed_calls: vec![MalformedCall {
                    format: ToolCallFormat::Hermes,
                    raw: "<tool_call>{\"name\": </tool_call>".into(),
                    reason: "invalid JSON".into(),
                }],
                ..ChatResponse::text("")
            })
            .then_text("sorry"),
    );
    let output = agent(Arc::clone(&model))
        .build()
        .unwrap()
        .run("q")
        .await
        .unwrap();
    assert_eq!(output.answer, "sorry");
    let feedback = model.requests()[1].messages.last().unwrap().text();
    assert!(
        feedback.contains("could not be parsed: invalid JSON"),
        "{feedback}"
    );
}

#[tokio::test]
async fn side_effecting_tools_ask_for_approval() {
    let write = tool_fn("write", "Writes.", |_: NoArgs| async move {
        Ok::<_, String>("written")
    })
    .with_policy(ToolPolicy::side_effecting());
    let model = ScriptedModel::new()
        .then_calls(vec![
            ToolCall::new("write", json!({})),
            ToolCall::new("now", json!({})),
        ])
        .then_text("ok");
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&asked);
    let output = Agent::builder()
        .model(model)
        .tool(write)
        .tool(now())
        .approval(move |call: &ToolCall, _spec: &ToolSpec| {
            counter.fetch_add(1, Ordering::SeqCst);
            assert_eq!(call.name, "write");
            Approval::Deny {
                reason: "the user said no".into(),
            }
        })
        .build()
        .unwrap()
        .run("write it")
        .await
        .unwrap();
    assert_eq!(asked.load(Ordering::SeqCst), 1);
    let step = &output.trace.steps[0];
    assert_eq!(error_kinds(step), [Some(ToolErrorKind::Denied), None]);
    assert!(result_texts(step)[0].contains("the user said no"));
}

#[tokio::test]
async fn stream_yields_deltas_calls_steps_and_final() {
    let model = ScriptedModel::new()
        .then_call("add", json!({"a": 1, "b": 1}))
        .then_text("The sum is 2.");
    let mut stream = agent(Arc::new(model)).build().unwrap().run_stream("1+1?");
    let mut text = String::new();
    let mut kinds = Vec::new();
    while let Some(event) = stream.next().await {
        kinds.push(match &event {
            AgentEvent::TextDelta { text: delta, .. } => {
                text.push_str(delta);
                "delta"
            }
            AgentEvent::ToolCallStarted { .. } => "started",
            AgentEvent::ToolCallFinished { result, .. } => {
                assert_eq!(result.text(), "2");
                "finished"
            }
            AgentEvent::StepFinished { .. } => "step",
            AgentEvent::Handoff { .. } => "handoff",
            AgentEvent::Final { output } => {
                assert_eq!(output.answer, text);
                "final"
            }
            AgentEvent::Error { error } => panic!("{error}"),
        });
    }
    kinds.dedup();
    assert_eq!(
        kinds,
        ["started", "finished", "step", "delta", "step", "final"]
    );
    assert_eq!(text, "The sum is 2.");
}

#[tokio::test]
async fn dropping_or_cancelling_the_stream_stops_the_run() {
    let model = ScriptedModel::new()
        .then_call("sleep", json!({"ms": 60_000}))
        .then_text("never");
    let mut stream = agent(Arc::new(model)).build().unwrap().run_stream("wait");
    assert!(matches!(
        stream.next().await,
        Some(AgentEvent::ToolCallStarted { .. })
    ));
    stream.cancel();
    let mut last = None;
    while let Some(event) = stream.next().await {
        last = Some(event);
    }
    assert!(matches!(
        last,
        Some(AgentEvent::Error {
            error: AgentError::Cancelled { .. }
        })
    ));
}

#[tokio::test]
async fn a_session_continues_across_runs_and_agents() {
    let memory = Arc::new(InMemoryMemory::new());
    let model = Arc::new(
        ScriptedModel::new()
            .then_text("Nice to meet you, Ada.")
            .then_text("Your name is Ada."),
    );
    let build = || {
        Agent::builder()
            .shared_model(model.clone())
            .system_prompt("sys")
            .shared_memory(memory.clone())
            .session("chat")
            .build()
            .unwrap()
    };
    build().run("I am Ada.").await.unwrap();
    let output = build().run("What is my name?").await.unwrap();
    assert_eq!(output.answer, "Your name is Ada.");
    let seen: Vec<String> = model.requests()[1]
        .messages
        .iter()
        .map(Message::text)
        .collect();
    assert_eq!(
        seen,
        [
            "sys",
            "I am Ada.",
            "Nice to meet you, Ada.",
            "What is my name?"
        ]
    );
    let session = memory.session(&"chat".into()).await.unwrap();
    assert_eq!(session.title, "I am Ada.");
    assert_eq!(session.message_count, 4);
    assert!(matches!(
        build().resume().await,
        Err(AgentError::NothingToResume)
    ));
}

#[test]
fn builder_reports_missing_model_and_bad_tools() {
    assert!(matches!(
        Agent::builder().build(),
        Err(BuildError::MissingModel)
    ));
    let duplicate = Agent::builder()
        .model(ScriptedModel::new())
        .tool(now())
        .tool(now())
        .build();
    assert!(matches!(
        duplicate,
        Err(BuildError::Tool(RegistryError::Duplicate(_)))
    ));
    let no_memory = Agent::builder()
        .model(ScriptedModel::new())
        .session("s")
        .build();
    assert!(matches!(no_memory, Err(BuildError::SessionWithoutMemory)));
}

#[tokio::test]
async fn a_forcing_tool_choice_applies_until_tools_were_called() {
    let model = Arc::new(
        ScriptedModel::new()
            .then_call("now", json!({}))
            .then_text("It is ten."),
    );
    agent(Arc::clone(&model))
        .tool_choice(ToolChoice::Required)
        .build()
        .unwrap()
        .run("time?")
        .await
        .unwrap();
    let choices: Vec<ToolChoice> = model
        .requests()
        .iter()
        .map(|r| r.tool_choice.clone())
        .collect();
    assert_eq!(choices, [ToolChoice::Required, ToolChoice::Auto]);

    let model = Arc::new(
        ScriptedModel::new()
            .then_call("now", json!({}))
            .then_text("x"),
    );
    agent(Arc::clone(&model))
        .tool_choice(ToolChoice::Specific("now".into()))
        .reset_tool_choice(false)
        .build()
        .unwrap()
        .run("time?")
        .await
        .unwrap();
    let choices: Vec<ToolChoice> = model
        .requests()
        .iter()
        .map(|r| r.tool_choice.clone())
        .collect();
    assert_eq!(
        choices,
        [
            ToolChoice::Specific("now".into()),
            ToolChoice::Specific("now".into())
        ]
    );
}

/// A tool that reports the conversation's images it sees, and attaches one of its own.
fn image_lister() -> FnTool {
    tool_fn_with_context(
        "list_images",
        "Lists the conversation's images.",
        |_: NoArgs, ctx: ToolContext| async move {
            let seen: Vec<String> = ctx
                .images()
                .iter()
                .map(|image| format!("{}:{}", image.sha256, image.data.is_some()))
                .collect();
            ctx.attach_image(ImageRef::from_bytes(vec![9, 9, 9], "image/png"));
            Ok::<_, String>(seen.join(","))
        },
    )
}

#[tokio::test]
async fn tools_see_the_conversations_images_with_their_bytes() {
    let photo = ImageRef::from_bytes(vec![1, 2, 3], "image/jpeg");
    let attached = ImageRef::from_bytes(vec![9, 9, 9], "image/png");
    let model = Arc::new(
        ScriptedModel::new()
            .then_calls(vec![ToolCall::new("list_images", json!({}))])
            .then_calls(vec![ToolCall::new("list_images", json!({}))])
            .then_text("done"),
    );
    let agent = agent(model).tool(image_lister()).build().unwrap();
    let output = agent
        .run(Message::user_with_images(
            "what is this?",
            vec![photo.clone(), photo.clone()],
        ))
        .await
        .unwrap();
    // The user's photo once, with its bytes; then also the image the tool attached.
    assert_eq!(
        result_texts(&output.trace.steps[0]),
        [format!("{}:true", photo.sha256)]
    );
    assert_eq!(
        result_texts(&output.trace.steps[1]),
        [format!("{}:true,{}:true", photo.sha256, attached.sha256)]
    );
    // Both stay in the agent's image cache, where tools find them in later runs too.
    let cache = agent.image_cache();
    assert_eq!(cache.get(&photo.sha256).unwrap().data, photo.data);
    assert_eq!(cache.get(&attached.sha256).unwrap().data, attached.data);
}

#[tokio::test(start_paused = true)]
async fn a_second_run_on_a_held_session_is_busy_or_waits_its_turn() {
    let model = Arc::new(
        ScriptedModel::new()
            .then_after(Duration::from_secs(5), ChatResponse::text("first"))
            .then_text("second")
            .then_text("third"),
    );
    let memory = Arc::new(InMemoryMemory::new());
    let build = |wait: Duration| {
        agent(model.clone())
            .shared_memory(memory.clone())
            .session("shared")
            .session_wait(wait)
            .build()
            .unwrap()
    };
    let first = tokio::spawn({
        let agent = build(Duration::ZERO);
        async move { agent.run("one").await }
    });
    tokio::time::sleep(Duration::from_millis(10)).await;

    let busy = build(Duration::from_secs(1)).run("two").await.unwrap_err();
    let AgentError::Memory {
        source: MemoryError::SessionBusy { session, waited },
        ..
    } = &busy
    else {
        panic!("unexpected {busy:?}");
    };
    assert_eq!(
        (session.as_str(), *waited),
        ("shared", Duration::from_secs(1))
    );

    // A run willing to wait starts after the first one's last step.
    let patient = build(Duration::from_secs(60)).run("three").await.unwrap();
    assert_eq!(first.await.unwrap().unwrap().answer, "first");
    assert_eq!(patient.answer, "second");
    let context = memory
        .load_context(&SessionId::new("shared"), &ContextStrategy::Full)
        .await
        .unwrap();
    let texts: Vec<String> = context.iter().map(Message::text).collect();
    assert_eq!(texts, ["one", "first", "three", "second"]);
}
