/**
 * `npm run demo:rollback`: the seed-02 supply chain on three nodes. An order flows inventory →
 * shipping → payment; the inventory batch turns out to be wrong; rolling back the inventory action
 * undoes everything it caused, children first: payment, then shipping, then inventory.
 */
import { Node, silentLogger } from "../runtime/index.ts";
import { Inventory, Payment, Shipping, type OrderOutcome } from "./supply-chain/agents.ts";

const say = (line = "") => process.stdout.write(`${line}\n`);
const servers = (process.env["TETHER_NATS_URL"] ?? "").split(",").filter(Boolean);
const journal: string[] = [];
let shown = 0;
const flush = (indent = "  ") => {
  for (; shown < journal.length; shown++) say(`${indent}${journal[shown]}`);
};

say("Tether demo: rollback along the action DAG (supply chain)\n");
const warehouse = await Node.create({ nodeId: "warehouse", network: "supply", servers }, { logger: silentLogger });
const logistics = await Node.create({ nodeId: "logistics", network: "supply", servers: [warehouse.url] }, { logger: silentLogger });
const finance = await Node.create({ nodeId: "finance", network: "supply", servers: [warehouse.url] }, { logger: silentLogger });
try {
  await warehouse.spawn("inventory", Inventory, { args: [journal] });
  await logistics.spawn("shipping", Shipping, { args: [journal] });
  await finance.spawn("payment", Payment, { args: [journal, 1] }); // the first refund attempt fails
  say("- inventory on node warehouse, shipping on logistics, payment on finance");

  say("\nOrder O-1001: 10 widgets from batch B-7");
  const outcome = (await warehouse.ref<typeof Inventory>("inventory").ask({ type: "order.place", order: "O-1001", sku: "widget", qty: 10, batch: "B-7" })) as OrderOutcome;
  flush();
  const wid = outcome.workflowId as string;
  const records = await warehouse.assurance.store.listWorkflow(wid);
  const reserve = records.find((r) => r.exec_act === "reserve_batch");
  say(`  workflow ${wid}: ${records.length} recorded actions, each linked to its cause`);

  say("\nQuality control: batch B-7 was the wrong batch. Rolling back reserve_batch and everything it caused:");
  finance.onEvent((e) => {
    if (e.type === "rollback-step") {
      flush("    ");
      say(`  ${e.step.actor.padEnd(9)} ${String(e.step.compensation).padEnd(16)} ${e.step.outcome} after ${e.step.attempts} attempt(s)`);
    }
  });
  const report = await finance.rollback({ workflow: wid, from: reserve?.jti as string, backoffMs: 50 });
  flush("    ");
  say(`\nRollback ${report.ok ? "complete" : "INCOMPLETE"}: compensated in order ${report.steps.map((s) => s.actor).join(" → ")}`);
  say(`  stock of widgets: ${await warehouse.ref<typeof Inventory>("inventory").ask({ type: "stock.get", sku: "widget" })}`);
  say(`  open shipments:   ${await logistics.ref<typeof Shipping>("shipping").ask({ type: "shipments.count" })}`);
  say(`  money collected:  ${await finance.ref<typeof Payment>("payment").ask({ type: "balance" })}`);
  const after = await warehouse.assurance.store.listWorkflow(wid);
  say(`  the workflow now records ${after.length} actions: the compensations are part of the same DAG`);
} finally {
  await finance.close();
  await logistics.close();
  await warehouse.close();
}
say("Done.");
