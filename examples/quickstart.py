"""The README's ten lines: exact risk, steps to target, tuning and a batch-size sweep on the paper's problem.

Run it: ``python examples/quickstart.py``.
"""

import nqm.numerics as nn

prob = nn.Problem.paper()                       # h_i = 1/i, d = 10^4, C = H, theta_0 ~ N(0, I), binned as the authors did
opt = nn.Momentum(lr=0.1, beta=0.9)
print(nn.expected_risk(prob, opt, batch_size=1024, steps=[0, 100, 10_000]))  # exact E[L(t)]
print(nn.steps_to_target(prob, opt, batch_size=1024, target=0.01))          # first t with E[L(t)] <= 0.01
best = nn.tune(prob, nn.Momentum, batch_size=1024, target=0.01)             # exact, on the paper's grid
print(best.steps, best.hyperparameters)
table = nn.sweep(prob, nn.Momentum, precond_power=0.5)                      # Fig. 3a: B = 2^2 ... 2^20
print(table.critical_batch_sizes())
