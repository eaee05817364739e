// Drives the real fal-js (@fal-ai/client) through a fal proxy, for tests/proxy/test_fal_js.py.
//
// Usage: node fal_js_driver.cjs '<json>' with {module, proxyUrl, session, scenario, endpoint,
// fileEndpoint}: `module` is the installed @fal-ai/client folder, `session` the app's own
// credential sent to the proxy (null: none), `scenario` "calls" or "refusals". Prints one JSON
// object: each step's outcome ({ok: true, ...} or {ok: false, status, name, message, body}).
"use strict";

const config = JSON.parse(process.argv[2]);
const { createFalClient, ApiError, ValidationError } = require(config.module);

// What a browser app adds to every proxied request: its own session, never a fal key. fal-js
// runs this before its proxy middleware, so `rewrite` can also change the target URL.
function clientFor({ session = config.session, rewrite = null } = {}) {
  return createFalClient({
    credentials: undefined, // the front end has no key
    proxyUrl: { url: config.proxyUrl, when: "always" }, // a string proxyUrl applies in browsers only
    requestMiddleware: async (request) => ({
      ...request,
      url: rewrite ? rewrite(request.url) : request.url,
      headers: {
        ...(request.headers || {}),
        ...(session ? { authorization: `Bearer ${session}` } : {}),
      },
    }),
    retry: { maxRetries: 0 },
  });
}

function failure(error) {
  return {
    ok: false,
    name: error && error.constructor ? error.constructor.name : typeof error,
    status: error instanceof ApiError ? error.status : undefined,
    message: String(error && error.message),
    body: error instanceof ApiError ? error.body : undefined,
    validation: error instanceof ValidationError,
    fieldErrors: error instanceof ValidationError ? error.fieldErrors : undefined,
  };
}

async function step(results, name, fn) {
  try {
    results[name] = { ok: true, ...(await fn()) };
  } catch (error) {
    results[name] = failure(error);
  }
}

const PNG = Uint8Array.from(
  Buffer.from(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
    "base64",
  ),
);

async function calls() {
  const fal = clientFor();
  const endpoint = config.endpoint;
  const input = { prompt: "a lighthouse at dusk", num_images: 1 };
  const results = {};

  await step(results, "subscribe_polling", async () => {
    const updates = [];
    let enqueued = null;
    const result = await fal.subscribe(endpoint, {
      input,
      logs: true,
      pollInterval: 50,
      onEnqueue: (id) => (enqueued = id),
      onQueueUpdate: (update) => updates.push(update.status),
    });
    return { requestId: result.requestId, enqueued, updates, images: result.data.images.length };
  });

  await step(results, "subscribe_streaming", async () => {
    const updates = [];
    const result = await fal.subscribe(endpoint, {
      input,
      logs: true,
      mode: "streaming",
      onQueueUpdate: (update) => updates.push(update.status),
    });
    return { requestId: result.requestId, updates, images: result.data.images.length };
  });

  await step(results, "queue", async () => {
    const submitted = await fal.queue.submit(endpoint, { input, priority: "low", hint: "h1" });
    const statuses = [];
    for (let i = 0; i < 400; i++) {
      const status = await fal.queue.status(endpoint, { requestId: submitted.request_id, logs: true });
      statuses.push(status.status);
      if (status.status === "COMPLETED") break;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    const result = await fal.queue.result(endpoint, { requestId: submitted.request_id });
    return {
      requestId: submitted.request_id,
      statuses,
      resultRequestId: result.requestId,
      images: result.data.images.length,
    };
  });

  await step(results, "cancel", async () => {
    const submitted = await fal.queue.submit(endpoint, { input });
    await fal.queue.cancel(endpoint, { requestId: submitted.request_id });
    return { requestId: submitted.request_id };
  });

  await step(results, "run", async () => {
    const result = await fal.run(endpoint, { input });
    return { requestId: result.requestId, images: result.data.images.length };
  });

  await step(results, "stream", async () => {
    const stream = await fal.stream(endpoint, { input });
    let events = 0;
    for await (const _event of stream) events++;
    const last = await stream.done();
    return { events, images: last.images.length, requestId: stream.requestId };
  });

  await step(results, "upload", async () => {
    const url = await fal.storage.upload(new Blob([PNG], { type: "image/png" }));
    const fetched = new Uint8Array(await (await fetch(url)).arrayBuffer());
    return { url, same: Buffer.compare(Buffer.from(fetched), Buffer.from(PNG)) === 0 };
  });

  await step(results, "auto_upload", async () => {
    // A Blob in the input is uploaded through the proxy first (fal-js transformInput).
    const result = await fal.subscribe(config.fileEndpoint, {
      input: { prompt: "edges", control_lora_image_url: new Blob([PNG], { type: "image/png" }) },
      pollInterval: 50,
    });
    return { requestId: result.requestId };
  });

  await step(results, "invalid_input", async () => {
    await fal.subscribe(endpoint, { input: { prompt: 42 }, pollInterval: 50 });
    return {};
  });
  return results;
}

async function refusals() {
  const endpoint = config.endpoint;
  const input = { prompt: "a cat" };
  const results = {};
  await step(results, "not_fal", async () => {
    const fal = clientFor({ rewrite: (url) => url.replace("https://fal.run/", "https://example.com/") });
    await fal.run(endpoint, { input });
    return {};
  });
  await step(results, "not_allowed", async () => {
    await clientFor().run(config.forbiddenEndpoint, { input });
    return {};
  });
  await step(results, "not_authenticated", async () => {
    await clientFor({ session: null }).subscribe(endpoint, { input, pollInterval: 50 });
    return {};
  });
  await step(results, "wrong_session", async () => {
    await clientFor({ session: "stolen" }).queue.submit(endpoint, { input });
    return {};
  });
  return results;
}

const scenarios = { calls, refusals };
scenarios[config.scenario]()
  .then((results) => {
    process.stdout.write(JSON.stringify(results));
  })
  .catch((error) => {
    process.stderr.write(String(error && error.stack ? error.stack : error));
    process.exit(1);
  });
