// e2e/collab/live.test.mjs against a 3-node cluster (see oncluster.mjs).
import './oncluster.mjs';
import '../collab/live.test.mjs';
