// format: qama-compile/qasm3
// version: 1
// header: {"target": "chimera-c16", "batch_size": 1, "num_variables": 2, "vartype": "SPIN", "convention": "E = offset + sum_i h_i s_i + sum_{i<j} J_ij s_i s_j (dimod); cim-optimizer minimises the negation", "graph_id": "chimera(16,4)", "qubit_order": [0, 4], "reps": 1, "physical": {"vartype": "SPIN", "label_fields": ["qubit"], "labels": [[0], [4]], "linear": [[1.6005648615998538, -2.0]], "offset": [-0.39943513840014605], "rows": [-5], "cols": [1], "data": [[0.5]]}, "compiled": {"schema": "qama-compile/physical", "version": 1, "target": "chimera-c16", "graph_id": "chimera(16,4)", "kind": "annealer", "qubits": [0, 4], "embedding": {"chains": [[0], [4]], "chain_strength": [1.0], "unembed": "majority"}, "quantization": {"bits": null, "h_step": null, "j_step": null, "scale": [3.8405554061834817]}, "decoder": [{"type": "VartypeChange", "source": "BINARY", "target": "SPIN"}, {"type": "ChainEmbedding", "qubits": [0, 4], "chain_of": [0, 1], "num_logical": 2, "method": "majority", "seed": 0}], "logical": {"vartype": "BINARY", "label_fields": ["head", "token", "bit"], "labels": [[0, 0, 0], [0, 1, 0]], "linear": [[0.8335069761122916, -1.0415160248853081]], "offset": [0.0], "rows": [], "cols": [], "data": [[]]}, "attention": {"heads": 1, "tokens": 2, "bits": 1}}}
// problem 0 of 1; QAOA reps=1
OPENQASM 3.0;
include "stdgates.inc";
input float[64] _β_0_;
input float[64] _γ_0_;
qubit[2] q;
h q[0];
h q[1];
rz((-3.2011297231997076)*_γ_0_) q[0];
rz(4*_γ_0_) q[1];
rx(2*_β_0_) q[0];
rx(2*_β_0_) q[1];
