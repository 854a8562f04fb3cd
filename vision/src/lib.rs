//! Vision models for Argus: a mistral.rs-hosted Llama vision model and image ingestion.
