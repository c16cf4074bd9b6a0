"""The 1997 paper's learning rule in compiled code: online gradient descent with the truncated
gradient, computed forward in time (Hochreiter & Schmidhuber 1997, Appendix A.1), one sequence
after another, without autograd.

For each sequence the hidden layer's activations and states start at zero. At every step the
kernel computes the net inputs of the hidden units (cells, input gates, output gates) from the
input and the fed-back activations, the gates, the cell states ``s += y_in g(net_c)`` and outputs
``y_c = y_out h(s)``, and keeps, per cell, the truncated derivatives of its state with respect to
the weights into the cell and into its block's input gate (eq. 25 and 27: the only derivatives
the truncated gradient needs; errors never flow back through the recurrent connections). At a step
with a target (the last, or every asked step of a per-step task) the output units
``y_k = sigmoid(net_k)`` give the errors ``e_k = f'(net_k) (t_k - y_k)`` (eq. 19), and every weight
gets its contribution (eq. 21-28): output weights ``e_k y_c``, output gates ``e_out y_m(t-1)``,
cells and input gates ``e_s ds/dw``. With ``realtime`` the weights change at every step with a
target (real-time learning, as RTRL: the derivatives carried forward were computed with the weights
of earlier steps); without it each weight's update is the sum of the contributions of all steps of
the sequence, applied when it ends (one reading of the Appendix's "each weight's total update is
the sum of the contributions of all time steps"). With a target only at the end the two are the
same. ``scales[i]`` multiplies sequence i's contributions: 1 sums its steps' errors (the paper),
1 / (its asked steps) averages them.

The arithmetic is float64. It equals backpropagation through the same network with the fed-back
activations detached (the plugin's autograd path, tested to 1e-5 after 1,000 sequences) and costs
O(weights) per step with a target and O(hidden units x fed-back units) per other step: token
inputs are one-hot, so only the active input's weights and derivatives are touched.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from longdep_bench.kernels.numba.lstm1997 import back_h, sigmoid, squash_h

AT_END, PER_STEP = 0, 1  # where targets are: at each sequence's last step, or at asked steps


@njit(inline="always", cache=True)
def _input_dot(weights, row, token, features, i, t):
    """The input's contribution to unit ``row``: a column for a token (-1: feature inputs), or a dot product."""
    if token >= 0:
        return weights[row, token] if token < weights.shape[1] else 0.0
    total = 0.0
    for f in range(features.shape[2]):
        total += weights[row, f] * features[i, t, f]
    return total


@njit(inline="always", cache=True)
def _add_input(accumulator, row, factor, token, features, i, t):
    """``accumulator[row, :inputs] += factor * x_t`` (one element for a token; -1: feature inputs)."""
    if token >= 0:
        if token < accumulator.shape[1]:
            accumulator[row, token] += factor
        return
    for f in range(features.shape[2]):
        accumulator[row, f] += factor * features[i, t, f]


@njit(inline="always", cache=True)
def _add_trace(d_in, d_rec, d_bias, row, error, trace, c, inputs, recurrent):
    """Add a state error's contribution to the weights into unit ``row``: ``error * trace[c]`` (eq. 24)."""
    for m in range(inputs):
        d_in[row, m] += error * trace[c, m]
    for k in range(recurrent):
        d_rec[row, k] += error * trace[c, inputs + k]
    d_bias[row] += error * trace[c, inputs + recurrent]


@njit(inline="always", cache=True)
def _apply(lr, w_in, w_rec, bias, bias_mask, w_out, w_skip, out_bias, out_mask, d_in, d_rec, d_bias, d_out, d_skip,
           d_out_bias):
    """Add the accumulated contributions to the weights (bias weights where the unit has one), then zero them."""
    w_in += lr * d_in
    w_rec += lr * d_rec
    bias += lr * d_bias * bias_mask
    w_out += lr * d_out
    w_skip += lr * d_skip
    out_bias += lr * d_out_bias * out_mask
    d_in[:] = 0.0
    d_rec[:] = 0.0
    d_bias[:] = 0.0
    d_out[:] = 0.0
    d_skip[:] = 0.0
    d_out_bias[:] = 0.0


@njit(cache=True, nogil=True)
def train_online(ids, features, lengths, targets, end_targets, layout, mode, scales, lr, realtime,
                 w_in, w_rec, bias, bias_mask, w_out, w_skip, out_bias, out_mask, logits):
    """Train on sequences ``0 .. n - 1`` in order, updating the weights in place, and write the
    output units' net inputs that each sequence got while it was trained on into ``logits``
    ((n, 1, K) at the end, or (n, T, K) per step).

    Inputs: token ``ids`` (n, T) with ``features`` of shape (n, T, 0), or ``features`` (n, T, F);
    ``lengths`` (n,). Targets: ``end_targets`` (n, K) at the last step (one-hot classes, or a
    value), or ``targets`` (n, T) class ids per step, -1 where none is asked. Weights: ``w_in``
    (U, I), ``w_rec`` (U, R), ``bias`` (U,) masked by ``bias_mask`` (1 where the unit has a bias
    weight), ``w_out`` (K, C), ``w_skip`` (K, I) from the inputs (2a's layered connectivity; K x 0
    otherwise), ``out_bias`` (K,) masked by ``out_mask``.
    """
    cells, block_size, feedback, output_gate, h_identity, g_logistic = layout
    units, inputs = w_in.shape
    recurrent = w_rec.shape[1]
    classes = w_out.shape[0]
    skip = w_skip.shape[1] > 0
    tokens = features.shape[2] == 0
    blocks = cells // block_size
    block_of = np.arange(cells) // block_size  # integer division is slow: once, not at every step
    width = inputs + recurrent + 1  # what a unit's net input depends on: inputs, fed-back units, bias
    d_in, d_rec, d_bias = np.zeros_like(w_in), np.zeros_like(w_rec), np.zeros_like(bias)
    d_out, d_skip, d_out_bias = np.zeros_like(w_out), np.zeros_like(w_skip), np.zeros_like(out_bias)
    net, act, s, h, y_c = np.zeros(units), np.zeros(units), np.zeros(cells), np.zeros(cells), np.zeros(cells)
    previous = np.zeros(recurrent)
    trace_cell, trace_gate = np.zeros((cells, width)), np.zeros((cells, width))  # ds_c/dw into c / c's gate
    target, back = np.zeros(classes), np.zeros(cells)
    for i in range(lengths.shape[0]):
        s[:] = 0.0
        previous[:] = 0.0
        trace_cell[:] = 0.0
        trace_gate[:] = 0.0
        length = lengths[i]
        for t in range(length):
            token = ids[i, t] if tokens else -1
            for j in range(units):
                total = bias[j] * bias_mask[j] + _input_dot(w_in, j, token, features, i, t)
                for k in range(recurrent):
                    total += w_rec[j, k] * previous[k]
                net[j] = total
            for j in range(cells, units):  # the gates' activations
                act[j] = sigmoid(net[j])
            for c in range(cells):
                block = block_of[c]
                y_in = act[cells + block]
                z = sigmoid(net[c])
                g, g_slope = (z, z * (1.0 - z)) if g_logistic else (4.0 * z - 2.0, 4.0 * z * (1.0 - z))
                s[c] += y_in * g
                h[c] = squash_h(s[c], h_identity)
                y_c[c] = (act[cells + blocks + block] if output_gate else 1.0) * h[c]
                into_cell = y_in * g_slope  # d s / d net_c (eq. 27)
                into_gate = g * y_in * (1.0 - y_in)  # d s / d net_in (eq. 25)
                _add_input(trace_cell, c, into_cell, token, features, i, t)
                _add_input(trace_gate, c, into_gate, token, features, i, t)
                for k in range(recurrent):
                    trace_cell[c, inputs + k] += into_cell * previous[k]
                    trace_gate[c, inputs + k] += into_gate * previous[k]
                trace_cell[c, width - 1] += into_cell
                trace_gate[c, width - 1] += into_gate
            asked = t == length - 1 if mode == AT_END else targets[i, t] >= 0
            if asked:
                for k in range(classes):
                    if mode == AT_END:
                        target[k] = end_targets[i, k]
                    else:
                        target[k] = 1.0 if targets[i, t] == k else 0.0
                for c in range(cells):
                    back[c] = 0.0
                for k in range(classes):
                    total = out_bias[k] * out_mask[k]
                    for c in range(cells):
                        total += w_out[k, c] * y_c[c]
                    if skip:
                        total += _input_dot(w_skip, k, token, features, i, t)
                    logits[i, 0 if mode == AT_END else t, k] = total
                    y = sigmoid(total)
                    error = scales[i] * y * (1.0 - y) * (target[k] - y)  # e_k (eq. 19)
                    for c in range(cells):
                        d_out[k, c] += error * y_c[c]
                        back[c] += w_out[k, c] * error
                    if skip:
                        _add_input(d_skip, k, error, token, features, i, t)
                    d_out_bias[k] += error
                for c in range(cells):
                    block = block_of[c]
                    y_out = act[cells + blocks + block] if output_gate else 1.0
                    if output_gate:  # eq. 21-22
                        gate = cells + blocks + block
                        e_out = back[c] * h[c] * y_out * (1.0 - y_out)
                        _add_input(d_in, gate, e_out, token, features, i, t)
                        for k in range(recurrent):
                            d_rec[gate, k] += e_out * previous[k]
                        d_bias[gate] += e_out
                    e_s = back_h(back[c] * y_out, s[c], h_identity)  # eq. 23
                    _add_trace(d_in, d_rec, d_bias, c, e_s, trace_cell, c, inputs, recurrent)  # eq. 27-28
                    _add_trace(d_in, d_rec, d_bias, cells + block, e_s, trace_gate, c, inputs, recurrent)  # 25-26
            if asked and realtime:  # the paper's real-time learning: the weights change at every target
                _apply(lr, w_in, w_rec, bias, bias_mask, w_out, w_skip, out_bias, out_mask, d_in, d_rec, d_bias,
                       d_out, d_skip, d_out_bias)
            for c in range(min(cells, recurrent)):  # what feeds back: the cells, and the gates (feedback 2)
                previous[c] = y_c[c]
            for j in range(cells, recurrent):
                previous[j] = act[j]
        _apply(lr, w_in, w_rec, bias, bias_mask, w_out, w_skip, out_bias, out_mask, d_in, d_rec, d_bias, d_out,
               d_skip, d_out_bias)
