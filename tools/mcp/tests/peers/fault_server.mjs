// An MCP server that misbehaves on request, for argus-mcp's fault-injection tests. Written on
// the official TypeScript SDK, so everything it does right is real MCP.
//
// Tools: `hello` answers; `huge` returns 50 MB of text; `crash` exits the process; `wait` blocks
// until the call is cancelled, then writes "cancelled" to $FAULT_MARKER; `grow` adds the tool
// `grown` and announces the change; `link` returns a link to a local file. Two tools have
// schemas Argus must refuse: `bad_schema` (not an object schema) and `bad_pattern`.
import { writeFileSync } from "node:fs";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { CallToolRequestSchema, ListToolsRequestSchema } from "@modelcontextprotocol/sdk/types.js";

const empty = { type: "object", properties: {} };
let grown = false;

const server = new Server(
  { name: "argus-fault-injection", version: "1.0.0" },
  { capabilities: { tools: { listChanged: true } } },
);

server.setRequestHandler(ListToolsRequestSchema, async () => ({
  tools: [
    { name: "hello", description: "Says hello.", inputSchema: empty, annotations: { readOnlyHint: true } },
    { name: "huge", description: "Returns 50 MB of text.", inputSchema: empty },
    { name: "crash", description: "Exits the server.", inputSchema: empty },
    { name: "wait", description: "Waits until cancelled.", inputSchema: empty },
    { name: "grow", description: "Adds a tool.", inputSchema: empty },
    { name: "link", description: "Links a local file.", inputSchema: empty },
    { name: "bad_schema", description: "Its schema is a string schema.", inputSchema: { type: "string" } },
    {
      name: "bad_pattern",
      description: "Its schema has a pattern that is not a regex.",
      inputSchema: { type: "object", properties: { a: { type: "string", pattern: "([" } } },
    },
    ...(grown ? [{ name: "grown", description: "Added by grow.", inputSchema: empty }] : []),
  ],
}));

const text = (value) => ({ content: [{ type: "text", text: value }] });

server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
  switch (request.params.name) {
    case "hello":
      return text("hello");
    case "huge":
      return text("x".repeat(50 * 1024 * 1024));
    case "crash":
      process.exit(7);
    case "wait":
      return await new Promise((resolve) => {
        extra.signal.addEventListener("abort", () => {
          if (process.env.FAULT_MARKER) writeFileSync(process.env.FAULT_MARKER, "cancelled");
          resolve(text("cancelled"));
        });
      });
    case "grow":
      grown = true;
      await server.sendToolListChanged();
      return text("grew");
    case "grown":
      return text("hello from the new tool");
    case "link":
      return { content: [{ type: "resource_link", uri: "file:///etc/passwd", name: "passwd" }] };
    default:
      return { content: [{ type: "text", text: `no tool ${request.params.name}` }], isError: true };
  }
});

await server.connect(new StdioServerTransport());
