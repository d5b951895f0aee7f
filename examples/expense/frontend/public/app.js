// Lists the expenses and adds new ones through the API (/api/expenses).
const list = document.getElementById("list");
const total = document.getElementById("total");
const status = document.getElementById("status");
const form = document.getElementById("add");

function show(message, error = false) {
  status.textContent = message;
  status.className = error ? "error" : "";
}

async function load() {
  try {
    const res = await fetch("/api/expenses");
    const body = await res.json();
    if (!res.ok) throw new Error(body.error || res.statusText);
    list.replaceChildren(
      ...body.map((e) => {
        const tr = document.createElement("tr");
        for (const [text, cls] of [[e.date, ""], [e.description, ""], [Number(e.amount).toFixed(2), "num"]]) {
          const td = document.createElement("td");
          td.textContent = text;
          if (cls) td.className = cls;
          tr.append(td);
        }
        return tr;
      }),
    );
    total.textContent = body.reduce((s, e) => s + Number(e.amount), 0).toFixed(2);
  } catch (err) {
    show(`Cannot load expenses: ${err.message}`, true);
  }
}

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const data = Object.fromEntries(new FormData(form));
  try {
    const res = await fetch("/api/expenses", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ...data, amount: Number(data.amount) }) });
    const body = await res.json();
    if (!res.ok) throw new Error(body.error || res.statusText);
    form.reset();
    form.date.valueAsDate = new Date();
    show(`Added "${body.description}".`);
    await load();
  } catch (err) {
    show(`Cannot add the expense: ${err.message}`, true);
  }
});

form.date.valueAsDate = new Date();
load();
