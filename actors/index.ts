export { Actor } from "./actor.ts";
