// e2e/collab/convergence.test.mjs against a 3-node cluster (see oncluster.mjs).
import './oncluster.mjs';
import '../collab/convergence.test.mjs';
