// The kiosk screen: a vote per button press (retried with the same vote id if the ballot box is
// briefly unavailable, so it counts once), a confirmation, and results refreshed every 3 s: the
// totals as text and both charts (totals, and votes per 10 minutes).
//
// With KIOSK_TOKEN set, votes carry it as a bearer token. The kiosk puts it in the page
// (<meta name="kiosk-token">) for a browser on its own machine only; a screen elsewhere is given
// it once in the address's fragment (http://kiosk:8080/#token=...: a fragment is never sent to
// the server nor in a Referer), which this script keeps in the origin's localStorage and takes
// out of the address bar. The page's CSP lets no other script run here to read it.
"use strict";

const statusLine = document.getElementById("status");
const totals = document.getElementById("totals");
const charts = {
  totals: document.getElementById("chart"),
  timeline: document.getElementById("timeline"),
};

const TOKEN_KEY = "kiosk-token";

// The token given in the fragment (#token=..., percent-encoded: "+" is a plus), if any.
function givenToken() {
  const found = /(?:^|&)token=([^&]*)/.exec(location.hash.slice(1));
  try {
    return found ? decodeURIComponent(found[1]) : null;
  } catch (err) {
    return null; // a malformed escape
  }
}

function kioskToken() {
  const given = givenToken();
  if (given) {
    localStorage.setItem(TOKEN_KEY, given);
  }
  if (location.hash) {
    history.replaceState(null, "", location.pathname + location.search);
  }
  const meta = document.querySelector('meta[name="kiosk-token"]');
  return meta ? meta.content : localStorage.getItem(TOKEN_KEY);
}

const token = kioskToken();

function newVoteId() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function vote(button) {
  const body = JSON.stringify({ candidate: button.dataset.candidate, vote_id: newVoteId() });
  statusLine.textContent = "Sending…";
  for (let attempt = 1; attempt <= 5; attempt++) {
    try {
      const headers = { "Content-Type": "application/json" };
      if (token) {
        headers.Authorization = `Bearer ${token}`;
      }
      const reply = await fetch("votes", { method: "POST", headers, body });
      const data = await reply.json();
      if (reply.status === 202) {
        statusLine.textContent = `Thank you! Your vote for ${button.textContent} was recorded.`;
        return;
      }
      if (reply.status !== 503) {
        statusLine.textContent = `Not recorded: ${data.error}`;
        return;
      }
    } catch (err) {
      // network trouble: retry below with the same vote id
    }
    statusLine.textContent = `Ballot box busy, retrying (${attempt})…`;
    await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
  }
  statusLine.textContent = "Not recorded: the ballot box is unavailable. Please try again.";
}

async function refresh() {
  try {
    const reply = await fetch("results", { cache: "no-store" });
    if (reply.ok) {
      const data = await reply.json();
      const names = Object.fromEntries(data.candidates.map((c) => [c.id, c.name]));
      totals.textContent = Object.entries(data.totals)
        .map(([id, n]) => `${names[id]}: ${n}`)
        .join("   ·   ");
      totals.dataset.total = data.total_votes;
    }
  } catch (err) {
    // keep the last figures
  }
  for (const [name, image] of Object.entries(charts)) {
    image.src = `results/${name}.png?t=${Date.now()}`;
  }
}

for (const button of document.querySelectorAll("button.vote")) {
  button.addEventListener("click", () => vote(button));
}
refresh();
setInterval(refresh, 3000);
