// api.js: the REST calls the UI makes, and nothing else. Contract: every function resolves
// with the parsed JSON body, or rejects with ApiError carrying the problem+json answer
// (type, title, status, detail). search() also says when its answer arrived
// (performance.now() after the whole body was received), for the render measurement.

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

async function call(path, params) {
  const url = params ? `${path}?${params}` : path;
  let resp;
  try {
    resp = await fetch(url, { headers: { Accept: "application/json" } });
  } catch (exc) {
    throw new ApiError(0, { title: "No answer", detail: "the server did not answer" });
  }
  const text = await resp.text();
  const answeredAt = performance.now();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = { title: "Bad answer", detail: `HTTP ${resp.status}: not JSON` };
  }
  if (!resp.ok) throw new ApiError(resp.status, body);
  return { body, answeredAt };
}

const enc = encodeURIComponent;

/** GET /search: {body: SearchResponse, answeredAt}. */
export const search = (params) => call("/search", params);
/** GET /articles/{id}: ArticleDetail. */
export const article = async (id) => (await call(`/articles/${enc(id)}`)).body;
/** GET /articles/{id}/similar: SearchResponse of the closest articles. */
export const similar = async (id, params) =>
  (await call(`/articles/${enc(id)}/similar`, params)).body;
/** GET /articles/{id}/versions: {article_id, story, versions: [...]} (stories contract). */
export const versions = async (id) => (await call(`/articles/${enc(id)}/versions`)).body;
/** GET /stats: what the index holds. */
export const stats = async () => (await call("/stats")).body;
