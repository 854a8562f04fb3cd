//! The `--demo` runs of the agents-that-use-agents examples, called as functions: each example
//! file is compiled into this test, so no example binary is built or started.

#![cfg(feature = "local")]
#![allow(clippy::unwrap_used)]
// Both examples load the shared `real_model` module; each copy is private to its example.
#![allow(clippy::duplicate_mod)]

#[allow(dead_code)]
#[path = "../examples/planner_describer.rs"]
mod planner_describer;

#[allow(dead_code)]
#[path = "../examples/triage_handoff.rs"]
mod triage_handoff;

#[tokio::test]
async fn planner_describer_demo_asks_the_describer_about_the_image() {
    let out = planner_describer::demo().await.unwrap();
    eprintln!("{out}");
    assert!(
        out.contains(
            "planner -> describe_image({\"input\":\"How many red squares are in the picture?\"}) \
             -> Three red squares on a white background."
        ),
        "{out}"
    );
    assert!(
        out.contains("planner -> calculator({\"expression\":\"3 * 7\"}) -> 21"),
        "{out}"
    );
    assert!(
        out.contains("answer (planner): The picture shows three red squares"),
        "{out}"
    );
    assert!(out.contains("planner saw an image: false"), "{out}");
    assert!(
        out.contains("describer was asked: How many red squares are in the picture? [image "),
        "{out}"
    );
    assert!(out.contains("with 0 tools"), "{out}");
}

#[tokio::test]
async fn triage_handoff_demo_hands_off_to_billing_and_back_to_triage() {
    let out = triage_handoff::demo().await.unwrap();
    eprintln!("{out}");
    let expected = [
        "user: Was invoice INV-7 paid?",
        "triage -> transfer_to_billing({}) -> The conversation was transferred to the agent `billing`.",
        "handoff: triage -> billing (step 1)",
        "billing -> invoice_status({\"invoice\":\"INV-7\"}) -> {\"invoice\":\"INV-7\",\"status\":\"paid\",\"paid_on\":\"2026-11-02\"}",
        "answer (billing): Yes: invoice INV-7 was paid on 2 November 2026.",
        "billing was offered: invoice_status, transfer_to_triage",
        "billing's system prompt: You are the billing specialist.",
        "user: When are you open?",
        "triage -> opening_hours({}) -> Monday to Friday, 9:00 to 17:00",
        "answer (triage): We are open Monday to Friday, 9:00 to 17:00.",
        "session \"support\": 10 messages",
    ];
    let mut rest = out.as_str();
    for line in expected {
        let at = rest
            .find(line)
            .unwrap_or_else(|| panic!("missing, in order: {line}\n{out}"));
        rest = &rest[at + line.len()..];
    }
}
