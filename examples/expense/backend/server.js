// The expense app's API: expenses stored in MySQL/MariaDB through mysql2.
//
//   GET  /api/expenses   every expense, newest first
//   POST /api/expenses   {"description": "...", "amount": 12.5, "date": "2026-11-29"}
//   GET  /healthz        the process is up (liveness)
//   GET  /readyz         the database answers (readiness)
//
// Configuration from the environment: DB_HOST (default "mysql"), DB_PORT
// (3306), DB_USER, DB_PASSWORD (from a Secret), DB_NAME ("expense"), PORT
// (8080), DB_CONNECT_ATTEMPTS (10) and DB_CONNECT_DELAY_MS (3000).
//
// At start it connects to the database, retrying a few times (the database
// may still be starting), and exits non-zero with the error when it cannot:
// a wrong password or an unreachable database shows as CrashLoopBackOff
// with the reason in `kubectl logs`, instead of a pod that looks Running
// and fails every request.
import http from "node:http";
import mysql from "mysql2/promise";

const config = {
  host: process.env.DB_HOST || "mysql",
  port: Number(process.env.DB_PORT || 3306),
  user: process.env.DB_USER || "expense",
  password: process.env.DB_PASSWORD || "",
  database: process.env.DB_NAME || "expense",
};
const port = Number(process.env.PORT || 8080);
const attempts = Number(process.env.DB_CONNECT_ATTEMPTS || 10);
const delayMs = Number(process.env.DB_CONNECT_DELAY_MS || 3000);

function log(msg, fields = {}) {
  const kv = Object.entries(fields)
    .map(([k, v]) => `${k}=${JSON.stringify(String(v))}`)
    .join(" ");
  console.log(`${new Date().toISOString()} ${msg}${kv ? ` ${kv}` : ""}`);
}

/** Errors after which a pooled connection is gone (the database restarted): worth one retry on a new connection. */
const CONNECTION_LOST = new Set(["PROTOCOL_CONNECTION_LOST", "ECONNRESET", "EPIPE", "ECONNREFUSED", "ETIMEDOUT", "ER_SERVER_SHUTDOWN"]);

const pool = mysql.createPool({
  ...config,
  waitForConnections: true,
  connectionLimit: 5,
  enableKeepAlive: true,
  connectTimeout: 5000,
  dateStrings: true,
  decimalNumbers: true,
});

async function query(sql, params = []) {
  try {
    const [rows] = await pool.query(sql, params);
    return rows;
  } catch (err) {
    if (!CONNECTION_LOST.has(err.code)) throw err;
    log("database connection lost; retrying once on a new connection", { code: err.code });
    const [rows] = await pool.query(sql, params);
    return rows;
  }
}

/** Connects once to prove the database is reachable with these credentials and the table exists; retries, then exits. */
async function waitForDatabase() {
  for (let i = 1; ; i++) {
    try {
      await query("SELECT COUNT(*) AS n FROM transactions");
      log("connected to the database", { host: config.host, port: config.port, database: config.database, user: config.user });
      return;
    } catch (err) {
      const what = `${err.code || "ERROR"}: ${err.message}`;
      if (i >= attempts) {
        // "cannot connect to HOST:PORT" first: the words skiff doctor (and people) look for.
        console.error(`${new Date().toISOString()} FATAL: cannot connect to ${config.host}:${config.port} (database ${config.database}, user ${config.user}) after ${attempts} attempts: ${what}`);
        process.exit(1);
      }
      log("database not reachable yet; retrying", { attempt: i, of: attempts, host: config.host, error: what });
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }
}

function send(res, status, body) {
  const data = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(data) });
  res.end(data);
}

function readBody(req, limit = 64 * 1024) {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks = [];
    req.on("data", (c) => {
      size += c.length;
      if (size > limit) {
        reject(Object.assign(new Error("request body too large"), { status: 413 }));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/** Checks a new expense; returns the error message, or undefined when it is valid. */
function invalid(e) {
  if (typeof e !== "object" || e === null) return "body must be a JSON object";
  if (typeof e.description !== "string" || e.description.trim() === "" || e.description.length > 255) return "description: a non-empty string of at most 255 characters";
  const amount = Number(e.amount);
  if (!Number.isFinite(amount) || amount < 0 || amount >= 1e10) return "amount: a number between 0 and 9999999999.99";
  if (typeof e.date !== "string" || !/^\d{4}-\d{2}-\d{2}$/.test(e.date) || Number.isNaN(Date.parse(e.date))) return "date: YYYY-MM-DD";
  return undefined;
}

async function handle(req, res) {
  const path = new URL(req.url || "/", "http://x").pathname;
  if (path === "/healthz") return send(res, 200, { status: "ok" });
  if (path === "/readyz") {
    try {
      await query("SELECT 1");
      return send(res, 200, { status: "ok" });
    } catch (err) {
      return send(res, 503, { status: "database unreachable", error: err.message });
    }
  }
  if (path === "/api/expenses" || path === "/api/expenses/") {
    if (req.method === "GET") {
      const rows = await query("SELECT id, description, amount, date, created_at AS createdAt FROM transactions ORDER BY date DESC, id DESC");
      return send(res, 200, rows);
    }
    if (req.method === "POST") {
      let e;
      try {
        e = JSON.parse(await readBody(req));
      } catch (err) {
        return send(res, err.status || 400, { error: err.status ? err.message : "body must be JSON" });
      }
      const why = invalid(e);
      if (why) return send(res, 400, { error: why });
      const r = await query("INSERT INTO transactions (description, amount, date) VALUES (?, ?, ?)", [e.description.trim(), Number(e.amount), e.date]);
      const [row] = await query("SELECT id, description, amount, date, created_at AS createdAt FROM transactions WHERE id = ?", [r.insertId]);
      log("expense added", { id: r.insertId });
      return send(res, 201, row);
    }
    res.setHeader("allow", "GET, POST");
    return send(res, 405, { error: "method not allowed" });
  }
  return send(res, 404, { error: "not found" });
}

// Listen at once, so /healthz says the process is up while the database is
// still awaited (a liveness probe must not kill a backend that is retrying);
// the API and /readyz answer 503 until then.
let ready = false;
const server = http.createServer((req, res) => {
  const path = new URL(req.url || "/", "http://x").pathname;
  if (!ready && path !== "/healthz") return send(res, 503, { error: "waiting for the database" });
  handle(req, res).catch((err) => {
    log("request failed", { method: req.method, url: req.url, error: err.message });
    if (!res.headersSent) send(res, 500, { error: "database error", detail: err.message });
    else res.destroy();
  });
});
server.listen(port, () => log("expense backend listening", { port }));

// Kubernetes sends SIGTERM before stopping the pod: finish in-flight requests, close the pool.
process.on("SIGTERM", () => {
  log("SIGTERM: shutting down");
  server.close(() => pool.end().finally(() => process.exit(0)));
  setTimeout(() => process.exit(0), 5000).unref();
});

await waitForDatabase();
ready = true;
