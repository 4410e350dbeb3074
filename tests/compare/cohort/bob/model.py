"""Loads the forest and applies the tuned cut."""

import pickle

import numpy as np
import pandas as pd


class Forest:
    def __init__(self, state):
        self.state = state
        self.spec = state["spec"]

    def _x(self, df):
        cols = {}
        for name in self.spec["feature_columns"]:
            if name in self.state["levels"]:
                lookup = {v: i for i, v in enumerate(self.state["levels"][name])}
                cols[name] = df[name].map(lookup).fillna(-1)
            else:
                cols[name] = pd.to_numeric(df[name], errors="coerce").fillna(-999)
        return pd.DataFrame(cols)

    def predict_proba(self, inputs):
        p = self.state["forest"].predict_proba(self._x(inputs))[:, 1]
        pos = self.spec["positive_class"]
        return np.column_stack([p if c == pos else 1 - p for c in self.spec["classes"]])

    def predict(self, inputs):
        p = self.state["forest"].predict_proba(self._x(inputs))[:, 1]
        neg = next(c for c in self.spec["classes"] if c != self.spec["positive_class"])
        return [self.spec["positive_class"] if x >= self.state["cut"] else neg for x in p]


def load(artifacts_dir):
    with open(f"{artifacts_dir}/forest.pkl", "rb") as fh:
        return Forest(pickle.load(fh))
