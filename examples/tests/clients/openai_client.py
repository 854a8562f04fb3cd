"""The official `openai` Python client against `argus serve`'s /v1/chat/completions.

Usage: openai_client.py BASE_URL EXPECTED_JSON, where EXPECTED_JSON names the replayed answers:
{"session": ..., "first": ..., "second": ..., "stream_session": ..., "streamed": ...}.
Exits non-zero on the first mismatch; prints a JSON summary of what it saw on success.
"""

import json
import sys

from openai import OpenAI


def main() -> None:
    base_url, expected = sys.argv[1], json.loads(sys.argv[2])
    client = OpenAI(base_url=base_url + "/v1", api_key="unused-without-a-token", max_retries=0)
    session = expected["session"]

    # Non-streaming, the session named by the X-Argus-Session header; the raw response to see
    # the header the server answers with.
    raw = client.chat.completions.with_raw_response.create(
        model="argus",
        messages=[{"role": "user", "content": "Remember: the meeting is on Friday."}],
        extra_headers={"X-Argus-Session": session},
    )
    assert raw.headers.get("x-argus-session") == session, dict(raw.headers)
    first = raw.parse()
    assert first.object == "chat.completion", first
    assert first.choices[0].message.role == "assistant", first
    assert first.choices[0].message.content == expected["first"], first
    assert first.choices[0].finish_reason == "stop", first

    # The same session again.
    second = client.chat.completions.create(
        model="argus",
        messages=[{"role": "user", "content": "When is the meeting?"}],
        extra_headers={"X-Argus-Session": session},
    )
    assert second.choices[0].message.content == expected["second"], second

    # Streaming, the session named by `user`.
    chunks = list(
        client.chat.completions.create(
            model="argus",
            user=expected["stream_session"],
            stream=True,
            messages=[{"role": "user", "content": "Stream, please."}],
        )
    )
    assert chunks, "no chunks"
    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks), chunks
    text = "".join(
        chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices
    )
    assert text == expected["streamed"], (text, chunks)
    finish = [chunk.choices[0].finish_reason for chunk in chunks if chunk.choices]
    assert finish[-1] == "stop", finish
    assert all(reason is None for reason in finish[:-1]), finish

    print(
        json.dumps(
            {
                "first": first.choices[0].message.content,
                "second": second.choices[0].message.content,
                "streamed": text,
                "chunks": len(chunks),
                "finish_reason": finish[-1],
            }
        )
    )


if __name__ == "__main__":
    main()
