//! The loop itself: call the model, dispatch its tool calls, commit each step, repeat.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use futures::future::BoxFuture;
use futures::StreamExt as _;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument as _, Span};

use super::typed::{repair_request, OutputSpec};
use super::vision::{observation_message, observation_request, observed_hashes, without_images};
use super::{
    handoff, spans, Agent, AgentError, AgentEvent, AgentStream, Approval, RunOutput, RunTrace,
    Step, VisionStrategy,
};
use crate::error_kind::ToolErrorKind;
use crate::history::History;
use crate::memory::{MemoryError, NewSession, ObservationKey, RunId, SessionLease, StepRecord};
use crate::message::{new_call_id, ContentPart, ImageRef, Message, Role, ToolCall};
use crate::model::{ChatRequest, ChatResponse, FinishReason, ModelError, StreamEvent, ToolChoice};
use crate::tool::{ToolContext, ToolEffect, ToolExecution, ToolFailure};
use crate::usage::Usage;

impl Agent {
    /// Runs the agent on `input` until it gives a final answer.
    ///
    /// With memory, the run continues the agent's session and commits every step as it
    /// completes; the input is step 0.
    pub async fn run(&self, input: impl Into<Message>) -> Result<RunOutput, AgentError> {
        self.run_cancellable(input, CancellationToken::new()).await
    }

    /// Like [`Agent::run`], stopping cleanly with [`AgentError::Cancelled`] when `cancel` fires.
    /// Steps completed before that stay committed.
    pub async fn run_cancellable(
        &self,
        input: impl Into<Message>,
        cancel: CancellationToken,
    ) -> Result<RunOutput, AgentError> {
        let run = RunState::new(self, cancel, None);
        let span = run.span.clone();
        let result = run.start(input.into()).instrument(span.clone()).await;
        spans::finish_run(&span, &result);
        result
    }

    /// Runs the agent in a background task, yielding events as they happen. The stream ends
    /// with [`AgentEvent::Final`] or [`AgentEvent::Error`]; dropping it cancels the run.
    ///
    /// Must be called within a Tokio runtime.
    pub fn run_stream(&self, input: impl Into<Message>) -> AgentStream {
        let input = input.into();
        self.spawn_stream(move |run| Box::pin(async move { run.start(input).await }))
    }

    /// Continues the session's last run if it did not finish (for example after a crash),
    /// from its last committed step.
    pub async fn resume(&self) -> Result<RunOutput, AgentError> {
        self.resume_cancellable(CancellationToken::new()).await
    }

    /// Like [`Agent::resume`], stopping cleanly when `cancel` fires.
    pub async fn resume_cancellable(
        &self,
        cancel: CancellationToken,
    ) -> Result<RunOutput, AgentError> {
        let run = RunState::new(self, cancel, None);
        let span = run.span.clone();
        let result = run.resume().instrument(span.clone()).await;
        spans::finish_run(&span, &result);
        result
    }

    pub(super) fn spawn_stream(
        &self,
        start: impl FnOnce(RunState<'_>) -> futures::future::BoxFuture<'_, Result<RunOutput, AgentError>>
            + Send
            + 'static,
    ) -> AgentStream {
        let (events, receiver) = mpsc::channel(256);
        let cancel = CancellationToken::new();
        let agent = self.clone();
        let token = cancel.clone();
        tokio::spawn(async move {
            let run = RunState::new(&agent, token, Some(events.clone()));
            let span = run.span.clone();
            let result = start(run).instrument(span.clone()).await;
            spans::finish_run(&span, &result);
            let last = match result {
                Ok(output) => AgentEvent::Final {
                    output: Box::new(output),
                },
                Err(error) => AgentEvent::Error { error },
            };
            // The receiver may be gone; then nobody is listening.
            let _ = events.send(last).await;
        });
        AgentStream {
            events: receiver,
            cancel,
        }
    }
}

/// One run in progress.
pub(super) struct RunState<'a> {
    /// The agent the run started with: its memory session, limits and image cache serve the
    /// whole run.
    agent: &'a Agent,
    /// The agent the conversation was last handed off to, whose model, tools and system prompt
    /// the run uses from then on.
    handed_off: Option<Agent>,
    cancel: CancellationToken,
    sink: Option<mpsc::Sender<AgentEvent>>,
    /// Shares its segments with the requests it was lent to and the steps of the trace.
    history: History,
    /// The images of `history`, each once, in order: what tools see of the conversation.
    images: Arc<Vec<ImageRef>>,
    /// Whether new images are observed before the tool-using steps
    /// ([`VisionStrategy::PerceiveThenAct`] with tools offered).
    perceive: bool,
    /// `history` with each image replaced by a reference, when `perceive`: what the tool-using
    /// steps see.
    text_history: History,
    /// The images an observation in `history` covers, when `perceive`.
    observed: HashSet<String>,
    trace: RunTrace,
    next_index: u32,
    model_steps: u32,
    /// Model calls that offered the tools (all but observing calls).
    acting_steps: u32,
    consecutive_failures: u32,
    /// The run's `invoke_agent` span.
    pub(super) span: Span,
    /// The schema and check of a typed answer.
    output: Option<OutputSpec>,
    /// Whether the tool-using steps are over and the answer is written under the output
    /// schema (a draft answer did not parse).
    formatting: bool,
    /// Whether an invalid structured answer was already fed back.
    repaired: bool,
}

impl<'a> RunState<'a> {
    pub(super) fn new(
        agent: &'a Agent,
        cancel: CancellationToken,
        sink: Option<mpsc::Sender<AgentEvent>>,
    ) -> Self {
        RunState {
            agent,
            handed_off: None,
            cancel,
            sink,
            history: History::new(),
            images: Arc::default(),
            perceive: perceives(agent),
            text_history: History::new(),
            observed: HashSet::new(),
            trace: RunTrace {
                run_id: RunId::random(),
                steps: Vec::new(),
                usage: Default::default(),
            },
            next_index: 0,
            model_steps: 0,
            acting_steps: 0,
            consecutive_failures: 0,
            output: None,
            formatting: false,
            repaired: false,
            span: spans::run(
                agent.name.as_deref(),
                agent.model.name(),
                agent.session.as_ref(),
            ),
        }
    }

    /// The run's final answer must be a value matching `spec`.
    pub(super) fn with_output(mut self, spec: OutputSpec) -> Self {
        self.output = Some(spec);
        self
    }

    /// Appends `segment` to the history and its new images to the conversation's images.
    fn extend_history(&mut self, segment: Arc<[Message]>) {
        let new_images: Vec<&ImageRef> = segment
            .iter()
            .flat_map(|message| &message.content)
            .filter_map(|part| match part {
                ContentPart::Image { image } => Some(image),
                _ => None,
            })
            .collect();
        if !new_images.is_empty() {
            let images = Arc::make_mut(&mut self.images);
            for image in new_images {
                self.agent.image_cache.insert(image);
                if !images.iter().any(|known| known.sha256 == image.sha256) {
                    images.push(image.clone());
                }
            }
        }
        if self.perceive {
            for message in segment.iter() {
                self.observed.extend(observed_hashes(message));
            }
            self.text_history
                .append(without_images(&segment, &self.images));
        }
        self.history.append(segment);
    }

    pub(super) async fn start(self, input: Message) -> Result<RunOutput, AgentError> {
        let lease = self.hold_session().await?;
        let result = self.start_held(input).await;
        if let Some(lease) = lease {
            lease.release().await;
        }
        result
    }

    async fn start_held(mut self, input: Message) -> Result<RunOutput, AgentError> {
        self.load_history(Some(&input)).await?;
        let segment = self.commit(vec![input], Default::default(), false).await?;
        self.extend_history(segment);
        self.run_steps().await
    }

    async fn resume(self) -> Result<RunOutput, AgentError> {
        let lease = self.hold_session().await?;
        let result = self.resume_held().await;
        if let Some(lease) = lease {
            lease.release().await;
        }
        result
    }

    /// Holds the agent's session for the run, so no other run's steps interleave with its own.
    async fn hold_session(&self) -> Result<Option<SessionLease>, AgentError> {
        let (Some(memory), Some(session)) = (&self.agent.memory, &self.agent.session) else {
            return Ok(None);
        };
        memory
            .lock_session(session, self.agent.session_wait)
            .await
            .map(Some)
            .map_err(|source| self.memory_error(source))
    }

    async fn resume_held(mut self) -> Result<RunOutput, AgentError> {
        let (Some(memory), Some(session)) = (&self.agent.memory, &self.agent.session) else {
            return Err(AgentError::NothingToResume);
        };
        let last = memory
            .last_run(session)
            .await
            .or_else(|error| match error {
                MemoryError::SessionNotFound(_) => Ok(None),
                other => Err(other),
            })
            .map_err(|source| self.memory_error(source))?;
        let Some(last) = last.filter(|run| !run.finished) else {
            return Err(AgentError::NothingToResume);
        };
        self.trace.run_id = last.run_id;
        self.next_index = last.steps;
        self.model_steps = last.steps.saturating_sub(1);
        self.acting_steps = self.model_steps;
        self.load_history(None).await?;
        self.run_steps().await
    }

    /// System prompt, then the session's context; creates the session on first use.
    async fn load_history(&mut self, input: Option<&Message>) -> Result<(), AgentError> {
        if let Some(prompt) = &self.agent.system_prompt {
            self.extend_history(Arc::from([Message::system(prompt.clone())]));
        }
        let (Some(memory), Some(session)) = (&self.agent.memory, &self.agent.session) else {
            return Ok(());
        };
        let loaded = match memory.load_context(session, &self.agent.context).await {
            Err(MemoryError::SessionNotFound(_)) => {
                let title: String = input
                    .map(Message::text)
                    .unwrap_or_default()
                    .chars()
                    .take(60)
                    .collect();
                memory
                    .create_session(NewSession::named(session.clone(), title))
                    .await
                    .map(|_| Vec::new())
            }
            other => other,
        };
        let context = loaded.map_err(|source| self.memory_error(source))?;
        self.extend_history(context.into());
        Ok(())
    }

    async fn run_steps(mut self) -> Result<RunOutput, AgentError> {
        let limits = self.agent.limits;
        loop {
            if self.model_steps >= limits.max_steps {
                return Err(AgentError::StepLimit {
                    limit: limits.max_steps,
                    trace: Box::new(self.trace),
                });
            }
            if self.perceive && self.observe_new_images().await? {
                continue;
            }
            let started = Instant::now();
            let index = self.next_index;
            let request = self.request();
            let constrained = request.output_schema.is_some();
            let response = self.call_model(index, request).await?;
            self.model_steps += 1;
            self.acting_steps += 1;

            let mut assistant = response.message;
            assistant.role = Role::Assistant;
            for call in &mut assistant.tool_calls {
                if call.id.is_empty() {
                    call.id = new_call_id();
                }
            }
            let mut is_final =
                assistant.tool_calls.is_empty() && response.malformed_calls.is_empty();
            let mut structured = None;
            let mut feedback = None;
            if let (true, Some(spec)) = (is_final, &self.output) {
                match spec.parse(&assistant.text()) {
                    Ok(value) => structured = Some(value),
                    // A draft from the tool-using steps: the next call writes it as a value.
                    Err(_) if !constrained => {
                        is_final = false;
                        self.formatting = true;
                    }
                    Err(reason) if !self.repaired => {
                        is_final = false;
                        self.repaired = true;
                        feedback = Some(repair_request(&reason));
                    }
                    Err(reason) => {
                        let raw = assistant.text();
                        let outcome = (response.finish_reason, response.usage, false);
                        self.record_step(index, vec![assistant], outcome, started)
                            .await?;
                        return Err(AgentError::InvalidOutput {
                            raw,
                            reason,
                            trace: Box::new(self.trace),
                        });
                    }
                }
            }
            let no_calls = assistant.tool_calls.is_empty() && response.malformed_calls.is_empty();
            let mut tool_results = if no_calls {
                feedback.into_iter().collect()
            } else if assistant.tool_calls.is_empty() {
                self.consecutive_failures += 1;
                vec![malformed_feedback(&response.malformed_calls)]
            } else {
                self.dispatch(index, &assistant.tool_calls).await
            };
            let handoff = handoff::resolve(self.active(), &mut tool_results);
            for result in &tool_results {
                match result.tool_result.as_ref().map(|info| info.error) {
                    Some(Some(_)) => self.consecutive_failures += 1,
                    Some(None) => self.consecutive_failures = 0,
                    None => {}
                }
            }

            let mut messages = Vec::with_capacity(1 + tool_results.len());
            messages.push(assistant);
            messages.extend(tool_results);
            let outcome = (response.finish_reason, response.usage, is_final);
            self.record_step(index, messages, outcome, started).await?;
            if let Some(target) = handoff {
                self.hand_off(index, target).await;
            }

            if is_final {
                let message = self
                    .trace
                    .steps
                    .last()
                    .map_or_else(|| Message::assistant(""), |step| step.assistant().clone());
                let agent = self.active().name.clone();
                return Ok(RunOutput {
                    answer: message.text(),
                    message,
                    trace: self.trace,
                    agent,
                    structured,
                });
            }
            if self.cancel.is_cancelled() {
                return Err(AgentError::Cancelled {
                    trace: Box::new(self.trace),
                });
            }
            if self.consecutive_failures >= limits.max_consecutive_failures {
                return Err(AgentError::TooManyFailures {
                    failures: self.consecutive_failures,
                    trace: Box::new(self.trace),
                });
            }
        }
    }

    /// Commits step `index` (its messages, and how its model call ended: finish reason, usage,
    /// whether it is final), adds it to the history and the trace, and tells the stream.
    async fn record_step(
        &mut self,
        index: u32,
        messages: Vec<Message>,
        (finish_reason, usage, is_final): (FinishReason, Usage, bool),
        started: Instant,
    ) -> Result<(), AgentError> {
        let segment = self.commit(messages, usage, is_final).await?;
        self.extend_history(Arc::clone(&segment));
        let step = Step::from_segment(
            index,
            segment,
            finish_reason,
            usage,
            u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        );
        self.trace.usage.add(&step.usage);
        if self.sink.is_some() {
            self.emit(AgentEvent::StepFinished { step: step.clone() })
                .await;
        }
        self.trace.steps.push(step);
        Ok(())
    }

    /// Under [`VisionStrategy::PerceiveThenAct`], observes the images no observation in the
    /// history covers yet: from the agent's cache or the memory's when this model already
    /// observed them for this question, else with one model call showing the images and the
    /// question and no tools. The observation is committed as a step of its own. Returns
    /// whether there was anything to observe.
    async fn observe_new_images(&mut self) -> Result<bool, AgentError> {
        let pending: Vec<ImageRef> = self
            .images
            .iter()
            .filter(|image| !self.observed.contains(&image.sha256))
            .map(|image| match image.data {
                Some(_) => image.clone(),
                None => self
                    .agent
                    .image_cache
                    .get(&image.sha256)
                    .unwrap_or_else(|| image.clone()),
            })
            .collect();
        if pending.is_empty() {
            return Ok(false);
        }
        let started = Instant::now();
        let index = self.next_index;
        let question = self
            .history
            .iter()
            .rev()
            .find(|message| message.role == Role::User)
            .map(Message::text)
            .unwrap_or_default();
        let key = ObservationKey::new(
            pending.iter().map(|image| image.sha256.clone()).collect(),
            question.clone(),
            self.active().model.name(),
        );
        let mut cached = self.agent.observations.get(&key);
        if let (None, Some(memory)) = (&cached, &self.agent.memory) {
            cached = memory
                .observation(&key)
                .await
                .map_err(|source| self.memory_error(source))?;
        }
        let (text, finish_reason, usage) = match cached {
            Some(text) => {
                tracing::debug!(images = pending.len(), "observation found in the cache");
                (text, FinishReason::Stop, Usage::default())
            }
            None => {
                let agent = self.agent;
                let request = ChatRequest {
                    messages: vec![observation_request(&question, &pending)].into(),
                    tools: Arc::from([]),
                    tool_choice: ToolChoice::Auto,
                    sampling: agent.sampling.clone(),
                    max_tokens: agent.max_tokens,
                    stop: agent.stop.clone(),
                    output_schema: None,
                };
                let response = self.call_model(index, request).await?;
                self.model_steps += 1;
                let text = response.message.text();
                if let Some(memory) = &self.agent.memory {
                    memory
                        .save_observation(&key, &text)
                        .await
                        .map_err(|source| self.memory_error(source))?;
                }
                (text, response.finish_reason, response.usage)
            }
        };
        self.agent.observations.insert(&key, &text);
        let message = observation_message(&pending, &self.images, &text);
        self.record_step(index, vec![message], (finish_reason, usage, false), started)
            .await?;
        Ok(true)
    }

    /// The agent running the conversation now: the last one handed off to, else the first.
    fn active(&self) -> &Agent {
        self.handed_off.as_ref().unwrap_or(self.agent)
    }

    /// Continues the run with `target`: its system prompt replaces the current one.
    async fn hand_off(&mut self, step: u32, target: Agent) {
        let from = self.active();
        tracing::info!(
            from = from.name.as_deref(),
            to = target.name.as_deref(),
            step,
            "handoff"
        );
        let history = handoff::swap_system_prompt(
            &self.history,
            from.system_prompt.as_deref(),
            target.system_prompt.as_deref(),
        );
        let from = from.name.clone();
        self.history = history;
        if self.sink.is_some() {
            let to = target.name.clone().unwrap_or_default();
            self.emit(AgentEvent::Handoff { step, from, to }).await;
        }
        self.handed_off = Some(target);
        self.perceive = perceives(self.active());
        if self.perceive {
            self.text_history = History::new();
            let segments: Vec<Arc<[Message]>> = self.history.segments().cloned().collect();
            for segment in segments {
                for message in segment.iter() {
                    self.observed.extend(observed_hashes(message));
                }
                self.text_history
                    .append(without_images(&segment, &self.images));
            }
        }
    }

    /// The next acting call's request. A typed run asks for its schema when no tools are
    /// offered, or once the tool-using steps are over (the tools are then withdrawn).
    fn request(&self) -> ChatRequest {
        let agent = self.active();
        let tool_choice = self.tool_choice();
        let tools_offered = !agent.tool_specs.is_empty() && tool_choice != ToolChoice::None;
        let output_schema = self
            .output
            .as_ref()
            .filter(|_| self.formatting || !tools_offered)
            .map(|spec| spec.schema.clone());
        let (tools, tool_choice) = if self.formatting {
            (Arc::from([]), ToolChoice::Auto)
        } else {
            (Arc::clone(&agent.tool_specs), tool_choice)
        };
        ChatRequest {
            messages: if self.perceive {
                self.text_history.clone()
            } else {
                self.history.clone()
            },
            tools,
            tool_choice,
            sampling: agent.sampling.clone(),
            max_tokens: agent.max_tokens,
            stop: agent.stop.clone(),
            output_schema,
        }
    }

    /// The configured choice; after the first acting model call, a forcing choice
    /// (`Required`/`Specific`) becomes `Auto` so the model can answer (unless disabled with
    /// [`AgentBuilder::reset_tool_choice`](super::AgentBuilder::reset_tool_choice)).
    fn tool_choice(&self) -> ToolChoice {
        let configured = &self.active().tool_choice;
        let forcing = matches!(configured, ToolChoice::Required | ToolChoice::Specific(_));
        if forcing && self.active().reset_tool_choice && self.acting_steps > 0 {
            ToolChoice::Auto
        } else {
            configured.clone()
        }
    }

    async fn call_model(
        &mut self,
        step: u32,
        request: ChatRequest,
    ) -> Result<ChatResponse, AgentError> {
        let model = &self.active().model;
        let span = spans::chat(model.name(), step);
        let result = if self.sink.is_none() {
            tokio::select! {
                biased;
                () = self.cancel.cancelled() => Err(ModelError::Cancelled),
                result = model.chat(request).instrument(span.clone()) => result,
            }
        } else {
            tokio::select! {
                biased;
                () = self.cancel.cancelled() => Err(ModelError::Cancelled),
                result = self.stream_model(step, request).instrument(span.clone()) => result,
            }
        };
        spans::finish_chat(&span, &result, self.agent.trace_contents);
        result.map_err(|error| match error {
            ModelError::Cancelled => AgentError::Cancelled {
                trace: Box::new(self.trace.clone()),
            },
            source => AgentError::Model {
                source,
                trace: Box::new(self.trace.clone()),
            },
        })
    }

    async fn stream_model(
        &self,
        step: u32,
        request: ChatRequest,
    ) -> Result<ChatResponse, ModelError> {
        let mut stream = self.active().model.chat_stream(request).await?;
        while let Some(event) = stream.next().await {
            match event? {
                StreamEvent::TextDelta { text } => {
                    self.emit(AgentEvent::TextDelta { step, text }).await;
                }
                StreamEvent::ToolCall { .. } => {}
                StreamEvent::Done { response } => return Ok(response),
            }
        }
        Err(ModelError::backend(
            "the model's stream ended without a final response",
        ))
    }

    /// Runs the step's calls concurrently (bounded), returning one tool message per call, in order.
    async fn dispatch(&self, step: u32, calls: &[ToolCall]) -> Vec<Message> {
        let executions: Vec<BoxFuture<'_, Message>> = calls
            .iter()
            .map(|call| Box::pin(self.execute(step, call)) as BoxFuture<'_, Message>)
            .collect();
        futures::stream::iter(executions)
            .buffered(self.agent.limits.tool_concurrency)
            .collect()
            .await
    }

    async fn execute(&self, step: u32, call: &ToolCall) -> Message {
        if self.sink.is_some() {
            self.emit(AgentEvent::ToolCallStarted {
                step,
                call: call.clone(),
            })
            .await;
        }
        let execution = match self.approve(call).await {
            Approval::Approve => {
                let ctx = ToolContext::new(call.id.clone())
                    .with_session(self.agent.session.clone())
                    .with_images(Arc::clone(&self.images))
                    .with_image_cache(self.agent.image_cache.clone())
                    .with_cancellation(self.cancel.clone());
                let contents = self.agent.trace_contents;
                let span = spans::tool(call, contents);
                let execution = self
                    .active()
                    .tools
                    .call(call, ctx)
                    .instrument(span.clone())
                    .await;
                spans::finish_tool(&span, &execution, contents);
                execution
            }
            Approval::Deny { reason } => ToolExecution::failed(
                call.clone(),
                ToolFailure::new(
                    ToolErrorKind::Denied,
                    format!("the call was not approved: {reason}"),
                ),
            ),
        };
        if let Err(failure) = &execution.result {
            tracing::warn!(tool = %call.name, call_id = %call.id, %failure, "tool call failed");
        }
        let message = execution.to_message();
        if self.sink.is_some() {
            self.emit(AgentEvent::ToolCallFinished {
                step,
                result: message.clone(),
            })
            .await;
        }
        message
    }

    async fn approve(&self, call: &ToolCall) -> Approval {
        let active = self.active();
        let (Some(hook), Some(tool)) = (&active.approval, active.tools.get(&call.name)) else {
            return Approval::Approve;
        };
        if tool.policy().effect != ToolEffect::SideEffecting {
            return Approval::Approve;
        }
        hook.approve(call, tool.spec()).await
    }

    /// Commits the step's messages to memory, returning them as one segment for the history
    /// and the trace (moved, not copied).
    async fn commit(
        &mut self,
        messages: Vec<Message>,
        usage: Usage,
        is_final: bool,
    ) -> Result<Arc<[Message]>, AgentError> {
        let index = self.next_index;
        self.next_index += 1;
        let (Some(memory), Some(session)) = (&self.agent.memory, &self.agent.session) else {
            return Ok(messages.into());
        };
        let record = StepRecord {
            run_id: self.trace.run_id.clone(),
            index,
            messages,
            usage,
            is_final,
        };
        memory
            .append_step(session, &record)
            .await
            .map_err(|source| self.memory_error(source))?;
        Ok(record.messages.into())
    }

    async fn emit(&self, event: AgentEvent) {
        if let Some(sink) = &self.sink {
            // A closed channel means the stream was dropped, which cancels the run.
            let _ = sink.send(event).await;
        }
    }

    fn memory_error(&self, source: MemoryError) -> AgentError {
        AgentError::Memory {
            source,
            trace: Box::new(self.trace.clone()),
        }
    }
}

/// Whether `agent` observes images before its tool-using steps.
fn perceives(agent: &Agent) -> bool {
    agent.vision == VisionStrategy::PerceiveThenAct && !agent.tool_specs.is_empty()
}

/// Tells the model its tool call could not be parsed, so it can try again.
fn malformed_feedback(malformed: &[crate::parse::MalformedCall]) -> Message {
    let reasons: Vec<String> = malformed
        .iter()
        .map(|m| {
            format!(
                "{} ({})",
                m.reason,
                m.raw.chars().take(120).collect::<String>()
            )
        })
        .collect();
    Message::user(format!(
        "Your tool call could not be parsed: {}. Reply with a valid tool call or a final answer.",
        reasons.join("; ")
    ))
}
