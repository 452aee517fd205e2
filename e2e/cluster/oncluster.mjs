// Runs the collab suite's tests against a 3-node cluster: imported before a
// collab test file, it makes the harness's Server start the cluster rig
// (3 nats-server + 3 cowrite) instead of one process, and makes server.url
// name the nodes in turn, so that consecutive clients and REST calls go to
// different nodes (a client that connects to one node, then a REST call on
// the next, then a second client on the third...).
import { Server } from '../collab/harness.mjs';
import { startCluster } from './rig.mjs';

Server.prototype.start = async function start() {
  this.rig = await startCluster({ args: this.args });
  this.turn = 0;
  return this;
};
Object.defineProperty(Server.prototype, 'url', {
  configurable: true,
  get() { return this.rig.urls[this.turn++ % this.rig.urls.length]; },
});
Server.prototype.kill = async function kill() { await this.rig?.stop(); this.rig = null; };
Server.prototype.cleanup = function cleanup() {}; // stop() removed the directory
