"""v1's early termination rules and the successive-halving one, as pure decisions with
reasons that carry the numbers."""

from sweeps.policies import Judge, decide


def bandit(**p):
    defaults = {"evaluation_interval": 1, "delay_evaluation": 0, "slack_factor": None,
                "slack_amount": None}  # fmt: skip
    return {"name": "Bandit", "properties": {**defaults, **p}}


def test_bandit_stops_a_child_outside_the_slack_factor_and_says_why():
    judge = Judge({"a_1": [0.5, 0.83], "a_2": [0.6, 0.71]}, maximize=True)
    reason = decide(bandit(slack_factor=0.1), judge, "a_2")
    # 0.83 / 1.1 = 0.7545: 0.71 is below it.
    assert reason == (
        "canceled by BanditPolicy: best 0.71 is below 0.83 / (1 + 0.1) = 0.7545 at interval 2"
    )
    assert decide(bandit(slack_factor=0.2), judge, "a_2") is None  # 0.83 / 1.2 = 0.69


def test_bandit_slack_amount_and_minimize():
    judge = Judge({"a_1": [0.30], "a_2": [0.45]}, maximize=False)
    assert "above 0.3 + 0.1 = 0.4 at interval 1" in decide(bandit(slack_amount=0.1), judge, "a_2")
    assert decide(bandit(slack_amount=0.2), judge, "a_2") is None


def test_bandit_compares_values_up_to_the_same_interval():
    # a_1 got good only later; at interval 1 a_2 is within slack of what a_1 had then.
    judge = Judge({"a_1": [0.5, 0.9], "a_2": [0.48]}, maximize=True)
    assert decide(bandit(slack_factor=0.1), judge, "a_2") is None


def test_the_first_batch_is_judged_like_every_other():
    judge = Judge({"a_1": [0.9], "a_2": [0.2], "a_3": [0.85]}, maximize=True)
    assert decide(bandit(slack_factor=0.1), judge, "a_2").startswith("canceled by BanditPolicy")


def test_evaluation_interval_and_delay():
    judge = Judge({"a_1": [0.9, 0.9, 0.9], "a_2": [0.1, 0.1, 0.1]}, maximize=True)
    assert decide(bandit(slack_factor=0.1, evaluation_interval=2), judge, "a_2") is None  # 3 % 2
    assert decide(bandit(slack_factor=0.1, delay_evaluation=4), judge, "a_2") is None
    assert decide(bandit(slack_factor=0.1, delay_evaluation=3), judge, "a_2") is not None


def test_median_stopping_uses_the_other_childrens_running_averages():
    policy = {
        "name": "MedianStopping",
        "properties": {"evaluation_interval": 1, "delay_evaluation": 0},
    }
    judge = Judge({"a_1": [0.2, 0.8], "a_2": [0.4, 0.6], "a_3": [0.1, 0.45]}, maximize=True)
    # averages of the others: 0.5 and 0.5 -> median 0.5; a_3's best 0.45 is worse.
    reason = decide(policy, judge, "a_3")
    assert reason == (
        "canceled by MedianStoppingPolicy: best 0.45 is worse than the median 0.5 of 2 other "
        "running averages at interval 2"
    )
    assert decide(policy, judge, "a_1") is None


def test_truncation_selection_cuts_the_lowest_percentage():
    policy = {"name": "TruncationSelection", "properties": {
        "evaluation_interval": 1, "delay_evaluation": 0, "truncation_percentage": 25}}  # fmt: skip
    series = {"a_1": [0.9], "a_2": [0.8], "a_3": [0.7], "a_4": [0.1]}
    judge = Judge(series, maximize=True)
    assert decide(policy, judge, "a_4") == (
        "canceled by TruncationSelectionPolicy: 0.1 is in the lowest 25% (1 of 4) at interval 1"
    )
    assert decide(policy, judge, "a_3") is None
    assert decide(policy, Judge({"a_1": [0.9], "a_2": [0.1]}, maximize=True), "a_2") is None


def test_successive_halving_keeps_the_top_third_at_each_rung():
    policy = {"name": "SuccessiveHalving", "properties": {"min_resource": 1, "reduction_factor": 3}}
    series = {f"a_{i}": [v] for i, v in enumerate([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])}
    judge = Judge(series, maximize=True)
    assert decide(policy, judge, "a_0") is None and decide(policy, judge, "a_1") is None
    reason = decide(policy, judge, "a_2")
    assert reason.startswith(
        "canceled by SuccessiveHalvingPolicy: best 0.7 is not in the top 2 of 6"
    )
    judge = Judge({"a_0": [0.9, 0.9], "a_5": [0.1, 0.1]}, maximize=True)
    assert decide(policy, judge, "a_5") is None  # interval 2 is no rung (1, 3, 9, ...)


def test_no_policy_and_nan_values_stop_nothing():
    judge = Judge({"a_1": [0.9], "a_2": [float("nan")]}, maximize=True)
    assert decide(None, judge, "a_2") is None
    assert decide(bandit(slack_factor=0.1), judge, "a_2") is None
