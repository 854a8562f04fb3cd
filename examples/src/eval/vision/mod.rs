//! The vision suite of `argus eval --vision`: questions about drawn pictures whose answers need
//! the calculator after reading the picture, run by a real [`Agent`] once per
//! [`VisionStrategy`] so the strategies compare side by side.
//!
//! A case passes on the tool when the agent called `calculator` with an expression whose value
//! is the expected number, and on the answer when the final answer contains that number. Every
//! request the agent makes is counted, and so are the images sent in requests that also carry
//! tool schemas (what Llama 3.2 Vision's prompt format does not support; none under
//! `PerceiveThenAct`).

mod draw;

use std::fmt::Write as _;
use std::io::Cursor;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use argus_core::{
    async_trait, Agent, AgentEvent, ChatModel, ChatRequest, ChatResponse, ChatStream, ImageCache,
    Message, ModelError, TokenCounter, ToolCall, ToolRegistry, VisionStrategy,
};
use argus_mcp::McpToolset;
use argus_tools::{Calculator, ImageTool};
use argus_vision::ImageLoader;
use futures::StreamExt as _;
use serde::Serialize;

pub(crate) use draw::Picture;

/// The agent's instructions in every case.
const SYSTEM_PROMPT: &str = "You are a careful assistant that can see images and use tools. \
Read what the question needs from the image, do the arithmetic with the calculator tool, and \
answer with the resulting number.";

/// Model calls an agent may make per case.
const MAX_STEPS: u32 = 4;

/// One question about a drawn picture.
#[derive(Debug, Clone, Copy)]
pub(crate) struct VisionCase {
    /// A short name.
    pub(crate) id: &'static str,
    /// The picture the question is about.
    pub(crate) picture: Picture,
    /// The question.
    pub(crate) question: &'static str,
    /// The number the calculator should return and the answer should contain.
    pub(crate) expected: f64,
}

/// The built-in vision cases.
pub(crate) const CASES: &[VisionCase] = &[
    VisionCase {
        id: "red-squares-times-7",
        picture: Picture::Squares { red: 4, blue: 0 },
        question: "How many red squares are in the image? Multiply that number by 7 with the \
                   calculator and answer with the result.",
        expected: 28.0,
    },
    VisionCase {
        id: "red-among-blue-plus-15",
        picture: Picture::Squares { red: 6, blue: 3 },
        question: "Count only the red squares in the image, then use the calculator to add 15 \
                   to that count. What is the result?",
        expected: 21.0,
    },
    VisionCase {
        id: "digit-squared",
        picture: Picture::Digit(7),
        question: "Which digit is drawn in the image? Use the calculator to compute its square.",
        expected: 49.0,
    },
    VisionCase {
        id: "two-digits-sum",
        picture: Picture::TwoDigits(3, 8),
        question: "The image shows two digits. Add them with the calculator and give the sum.",
        expected: 11.0,
    },
    VisionCase {
        id: "circles-times-squares",
        picture: Picture::CirclesAndSquares {
            circles: 5,
            squares: 2,
        },
        question: "Multiply the number of blue circles by the number of green squares in the \
                   image, using the calculator.",
        expected: 10.0,
    },
];

/// The strategies to compare: `only`, or both.
pub(crate) fn strategies(only: Option<VisionStrategy>) -> Vec<VisionStrategy> {
    match only {
        Some(strategy) => vec![strategy],
        None => vec![VisionStrategy::Direct, VisionStrategy::PerceiveThenAct],
    }
}

/// How one case went under one strategy.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct VisionScore {
    pub(crate) id: String,
    pub(crate) strategy: VisionStrategy,
    pub(crate) expected: f64,
    /// The calculator expressions the agent ran.
    pub(crate) expressions: Vec<String>,
    /// Some calculator call's expression evaluates to the expected number.
    pub(crate) tool_correct: bool,
    /// The final answer contains the expected number.
    pub(crate) answer_correct: bool,
    /// The final answer (empty when the run failed).
    pub(crate) answer: String,
    /// Requests the agent sent to the model.
    pub(crate) model_calls: usize,
    /// Images in requests that also carried tool schemas.
    pub(crate) images_with_tools: usize,
    /// Images in all requests.
    pub(crate) images_sent: usize,
    /// Wall time of the whole run.
    pub(crate) ms: f64,
    /// Why the run failed, if it did.
    pub(crate) error: Option<String>,
}

/// Runs every case under `strategy`: one fresh agent per case on `model`, with the calculator
/// and the image tool (and the tools of `mcp`, if any), tool choice auto.
pub(crate) async fn run_vision_suite(
    model: &Arc<dyn ChatModel>,
    images: &ImageCache,
    mcp: Option<&McpToolset>,
    cases: &[VisionCase],
    strategy: VisionStrategy,
    max_tokens: u32,
) -> anyhow::Result<Vec<VisionScore>> {
    let mut scores = Vec::with_capacity(cases.len());
    for case in cases {
        let photo = encode(case.picture)?;
        let probe = Arc::new(Probe::new(model.clone()));
        let mut tools = ToolRegistry::new();
        tools
            .register(Calculator)?
            .register(ImageTool::new().without_urls())?;
        if let Some(mcp) = mcp {
            mcp.register_into(&mut tools);
        }
        let agent = Agent::builder()
            .shared_model(probe.clone())
            .image_cache(images.clone())
            .system_prompt(SYSTEM_PROMPT)
            .tools(tools)
            .vision_strategy(strategy)
            .max_steps(MAX_STEPS)
            .max_tokens(max_tokens)
            .build()?;
        let started = Instant::now();
        let run = collect(
            &agent,
            Message::user_with_images(case.question, vec![photo]),
        )
        .await;
        let ms = started.elapsed().as_secs_f64() * 1e3;
        let counts = probe.counts();
        let expressions: Vec<String> = run
            .calls
            .iter()
            .filter(|call| call.name == "calculator")
            .filter_map(|call| call.arguments.get("expression")?.as_str().map(String::from))
            .collect();
        let tool_correct = expressions.iter().any(|expression| {
            Calculator::evaluate(expression).is_ok_and(|value| same_number(value, case.expected))
        });
        let answer = run.answer.unwrap_or_default();
        scores.push(VisionScore {
            id: case.id.to_string(),
            strategy,
            expected: case.expected,
            expressions,
            tool_correct,
            answer_correct: mentions(&answer, case.expected),
            answer,
            model_calls: counts.calls,
            images_with_tools: counts.images_with_tools,
            images_sent: counts.images,
            ms,
            error: run.error,
        });
    }
    Ok(scores)
}

/// A picture as a PNG image reference.
fn encode(picture: Picture) -> anyhow::Result<argus_core::ImageRef> {
    let mut png = Vec::new();
    picture
        .draw()
        .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)?;
    Ok(ImageLoader::new().load_bytes(png)?.reference)
}

/// What a run did: its tool calls, its answer or its error.
struct Run {
    calls: Vec<ToolCall>,
    answer: Option<String>,
    error: Option<String>,
}

async fn collect(agent: &Agent, input: Message) -> Run {
    let mut run = Run {
        calls: Vec::new(),
        answer: None,
        error: None,
    };
    let mut events = agent.run_stream(input);
    while let Some(event) = events.next().await {
        match event {
            AgentEvent::ToolCallStarted { call, .. } => run.calls.push(call),
            AgentEvent::Final { output } => run.answer = Some(output.answer),
            AgentEvent::Error { error } => run.error = Some(error.to_string()),
            _ => {}
        }
    }
    if run.answer.is_none() && run.error.is_none() {
        run.error = Some("the run ended without a result".into());
    }
    run
}

fn same_number(value: f64, expected: f64) -> bool {
    (value - expected).abs() < 1e-9
}

/// Whether `text` contains `expected` as a number of its own (`28`, `28.0`; not `128`).
fn mentions(text: &str, expected: f64) -> bool {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map(|word| word.trim_matches('.'))
        .filter_map(|word| word.parse::<f64>().ok())
        .any(|value| same_number(value, expected))
}

/// What the agent sent to the model.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    calls: usize,
    images: usize,
    images_with_tools: usize,
}

/// The model, with every request counted.
struct Probe {
    inner: Arc<dyn ChatModel>,
    counts: Mutex<Counts>,
}

impl Probe {
    fn new(inner: Arc<dyn ChatModel>) -> Probe {
        Probe {
            inner,
            counts: Mutex::default(),
        }
    }

    fn record(&self, request: &ChatRequest) {
        let images: usize = request.messages.iter().map(|m| m.images().count()).sum();
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts.calls += 1;
        counts.images += images;
        if !request.tools.is_empty() {
            counts.images_with_tools += images;
        }
    }

    fn counts(&self) -> Counts {
        *self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl ChatModel for Probe {
    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse, ModelError> {
        self.record(&request);
        self.inner.chat(request).await
    }

    async fn chat_stream(&self, request: ChatRequest) -> Result<ChatStream, ModelError> {
        self.record(&request);
        self.inner.chat_stream(request).await
    }

    fn name(&self) -> &str {
        self.inner.name()
    }

    fn context_length(&self) -> Option<usize> {
        self.inner.context_length()
    }

    fn token_counter(&self) -> Option<TokenCounter> {
        self.inner.token_counter()
    }

    fn vision_strategy(&self) -> VisionStrategy {
        self.inner.vision_strategy()
    }
}

/// A strategy's totals.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct VisionReport {
    pub(crate) strategy: VisionStrategy,
    pub(crate) cases: usize,
    pub(crate) tool_correct: usize,
    pub(crate) answer_correct: usize,
    pub(crate) model_calls: usize,
    pub(crate) images_with_tools: usize,
    pub(crate) errors: usize,
    pub(crate) mean_ms: f64,
}

impl VisionReport {
    /// Sums the scores of `strategy`.
    pub(crate) fn new(strategy: VisionStrategy, scores: &[VisionScore]) -> VisionReport {
        let mine: Vec<&VisionScore> = scores.iter().filter(|s| s.strategy == strategy).collect();
        let count = |f: &dyn Fn(&VisionScore) -> bool| mine.iter().filter(|s| f(s)).count();
        VisionReport {
            strategy,
            cases: mine.len(),
            tool_correct: count(&|s| s.tool_correct),
            answer_correct: count(&|s| s.answer_correct),
            model_calls: mine.iter().map(|s| s.model_calls).sum(),
            images_with_tools: mine.iter().map(|s| s.images_with_tools).sum(),
            errors: count(&|s| s.error.is_some()),
            mean_ms: mine.iter().map(|s| s.ms).sum::<f64>() / mine.len().max(1) as f64,
        }
    }

    /// Markdown: one row per strategy, then one row per case with the strategies side by side.
    pub(crate) fn tables(reports: &[VisionReport], scores: &[VisionScore]) -> String {
        let mut out = String::from(
            "| strategy | cases | calculator right | answer right | model calls/case | \
             images sent with tool schemas | errors | ms/case |\n\
             |---|---|---|---|---|---|---|---|\n",
        );
        for r in reports {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {:.1} | {} | {} | {:.0} |",
                r.strategy,
                r.cases,
                super::score::ratio(r.tool_correct, r.cases),
                super::score::ratio(r.answer_correct, r.cases),
                r.model_calls as f64 / r.cases.max(1) as f64,
                r.images_with_tools,
                r.errors,
                r.mean_ms,
            );
        }
        out.push_str("\n| case | expected |");
        for r in reports {
            let _ = write!(out, " {} |", r.strategy);
        }
        out.push_str("\n|---|---|");
        for _ in reports {
            out.push_str("---|");
        }
        out.push('\n');
        let mut ids: Vec<&str> = Vec::new();
        for score in scores {
            if !ids.contains(&score.id.as_str()) {
                ids.push(&score.id);
            }
        }
        for id in ids {
            let mut expected = 0.0;
            let mut cells = String::new();
            for r in reports {
                let cell = match scores
                    .iter()
                    .find(|s| s.id == id && s.strategy == r.strategy)
                {
                    Some(s) => {
                        expected = s.expected;
                        format!(
                            "calc {} · answer {} · {} call{} · {} img+tools · {:.0} ms{}",
                            yes_no(s.tool_correct),
                            yes_no(s.answer_correct),
                            s.model_calls,
                            if s.model_calls == 1 { "" } else { "s" },
                            s.images_with_tools,
                            s.ms,
                            if s.error.is_some() { " · error" } else { "" },
                        )
                    }
                    None => "-".into(),
                };
                let _ = write!(cells, " {cell} |");
            }
            let _ = writeln!(out, "| {id} | {expected} |{cells}");
        }
        out
    }
}

fn yes_no(value: bool) -> &'static str {
    if value {
        "yes"
    } else {
        "no"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_core::ScriptedModel;
    use serde_json::json;

    #[test]
    fn numbers_in_answers_are_whole_words() {
        assert!(mentions("The result is 28.", 28.0));
        assert!(mentions("28.0", 28.0));
        assert!(!mentions("128 squares", 28.0));
        assert!(!mentions("no number here", 28.0));
    }

    #[test]
    fn every_case_asks_for_the_number_its_picture_gives() {
        for case in CASES {
            let expected = match case.picture {
                Picture::Squares { red, .. } if case.id.contains("times-7") => red * 7,
                Picture::Squares { red, .. } => red + 15,
                Picture::Digit(d) => u32::from(d) * u32::from(d),
                Picture::TwoDigits(a, b) => u32::from(a) + u32::from(b),
                Picture::CirclesAndSquares { circles, squares } => circles * squares,
            };
            assert_eq!(f64::from(expected), case.expected, "{}", case.id);
        }
    }

    /// A perfect scripted model under each strategy: observing (perceive-then-act only), one
    /// calculator call, the answer.
    fn perfect(strategy: VisionStrategy) -> Arc<dyn ChatModel> {
        let mut model = ScriptedModel::new();
        for case in CASES {
            if strategy == VisionStrategy::PerceiveThenAct {
                model = model.then_text("I see the shapes.");
            }
            model = model
                .then_call(
                    "calculator",
                    json!({"expression": format!("{} + 0", case.expected)}),
                )
                .then_text(format!("The result is {}.", case.expected));
        }
        Arc::new(model)
    }

    #[tokio::test]
    async fn perceive_then_act_sends_no_image_with_tools_and_direct_does() {
        let mut scores = Vec::new();
        for strategy in strategies(None) {
            let model = perfect(strategy);
            scores.extend(
                run_vision_suite(&model, &ImageCache::new(), None, CASES, strategy, 32)
                    .await
                    .unwrap(),
            );
        }
        let direct = VisionReport::new(VisionStrategy::Direct, &scores);
        let perceive = VisionReport::new(VisionStrategy::PerceiveThenAct, &scores);
        for report in [&direct, &perceive] {
            assert_eq!(report.cases, CASES.len());
            assert_eq!(report.tool_correct, CASES.len(), "{report:?}");
            assert_eq!(report.answer_correct, CASES.len(), "{report:?}");
            assert_eq!(report.errors, 0);
        }
        assert_eq!(direct.model_calls, 2 * CASES.len());
        assert_eq!(perceive.model_calls, 3 * CASES.len());
        // Direct shows the picture in both of its requests, each with the tool schemas.
        assert_eq!(direct.images_with_tools, 2 * CASES.len());
        assert_eq!(perceive.images_with_tools, 0);
        assert!(scores
            .iter()
            .filter(|s| s.strategy == VisionStrategy::PerceiveThenAct)
            .all(|s| s.images_sent == 1));

        let tables = VisionReport::tables(&[direct, perceive], &scores);
        assert!(tables.contains("| direct | 5 | 100.0% (5/5) | 100.0% (5/5) | 2.0 | 10 |"));
        assert!(tables.contains("| perceive_then_act | 5 |"));
        assert!(tables.contains("| digit-squared | 49 | calc yes · answer yes · 2 calls"));
    }

    #[tokio::test]
    async fn a_wrong_expression_or_a_failed_run_scores_nothing() {
        let model: Arc<dyn ChatModel> = Arc::new(
            ScriptedModel::new()
                .then_call("calculator", json!({"expression": "4 * 6"}))
                .then_text("It is 24."),
        );
        let scores = run_vision_suite(
            &model,
            &ImageCache::new(),
            None,
            &CASES[..2],
            VisionStrategy::Direct,
            32,
        )
        .await
        .unwrap();
        assert_eq!(scores[0].expressions, ["4 * 6"]);
        assert!(!scores[0].tool_correct && !scores[0].answer_correct);
        // The script ran out: the second case fails and says why.
        assert!(scores[1].error.is_some());
        assert!(!scores[1].tool_correct);
    }
}
