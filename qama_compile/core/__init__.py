"""Layer 1, *core*: the canonical IR and the QAMA mathematics (docs/hamiltonian.md).

* :mod:`~qama_compile.core.ir` - :class:`QuadraticIR`, the batched, immutable IR;
* :mod:`~qama_compile.core.hamiltonian` - fields (value entropy), couplings (JS), normalisation;
* :mod:`~qama_compile.core.lowering` - attention tensors -> :class:`AttentionProblem`;
* :mod:`~qama_compile.core.problem` - the problem: IR plus J, h, attention and parameters;
* :mod:`~qama_compile.core.convert` - exact conversions to and from dimod and Qiskit;
* :mod:`~qama_compile.core.decode` - decoders: the way back from physical samples, as data;
* :mod:`~qama_compile.core.summary` - counts and dynamic ranges;
* :mod:`~qama_compile.core.exact` - exact lowest states by vectorised enumeration.
"""
