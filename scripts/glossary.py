"""The Chinese edition's glossary (术语表): one Chinese term per idea, fixed once.

Every notebook in ``notebooks/zh/`` writes the English term beside a glossary term the first
time it uses it (``权重（weight）``); ``tests/test_parity.py`` checks that, and that the start
page and ``README.zh-CN.md`` list every term. Each entry: Chinese term -> the English forms
accepted beside it (the first is the one the lists show).
"""

from __future__ import annotations

GLOSSARY: dict[str, tuple[str, ...]] = {
    "仿射变换": ("affine map", "affine transformation", "affine"),
    "线性变换": ("linear map", "linear transformation"),
    "全连接层": ("fully connected layer", "fully connected", "fully-connected"),
    "线性层": ("linear layer",),
    "权重": ("weight",),
    "偏置": ("bias",),
    "初始化": ("initialisation", "initialization", "init"),
    "扇入": ("fan-in", "fan_in"),
    "扇出": ("fan-out", "fan_out"),
    "批归一化": ("batch normalisation", "batch normalization", "BatchNorm"),
    "前向传播": ("forward pass", "forward"),
    "反向传播": ("backward pass", "backpropagation", "backward", "backprop"),
    "梯度": ("gradient",),
    "学习率": ("learning rate",),
    "权重衰减": ("weight decay",),
    "张量并行": ("tensor parallelism", "tensor parallel"),
    "优化器": ("optimiser", "optimizer"),
    "损失函数": ("loss function", "loss"),
    "激活函数": ("activation function", "activation"),
    "多层感知机": ("MLP", "multilayer perceptron"),
    "决策边界": ("decision boundary",),
    "暂退法": ("dropout",),
    "广播": ("broadcasting", "broadcast"),
    "正则化": ("regularisation", "regularization"),
    "量化": ("quantisation", "quantization", "quantize", "quantise"),
    "低秩适配": ("LoRA", "low-rank adaptation"),
}


def english(term: str) -> str:
    """The English form the glossary lists show for ``term``.

    >>> english("扇入")
    'fan-in'
    """
    return GLOSSARY[term][0]
