"""Light-ASD (Liao et al., CVPR 2023) as a PyTorch module, written from the published weights' key names and
shapes, the paper, and the authors' MIT-licensed repository (Junhua-Liao/Light-ASD) read as a reference.

The module takes what the Swift path feeds it: normalised grey face crops and MFCCs, and gives one speaking score
per video frame (logit 1 of the audio-visual head). `ServedLightASD` is the form exported for OpenCV."""

import torch
from torch import nn

BN = dict(momentum=0.01, eps=0.001)


class VisualBlock(nn.Module):
    """Two factored (spatial 1xkxk, then temporal kx1x1) branches of kernel 3 and 5, summed, then a 1x1x1 mix."""

    def __init__(self, cin, cout, down=False):
        super().__init__()
        stride = (1, 2, 2) if down else (1, 1, 1)
        for k in (3, 5):
            setattr(self, f"s_{k}", nn.Conv3d(cin, cout, (1, k, k), stride=stride, padding=(0, k // 2, k // 2), bias=False))
            setattr(self, f"bn_s_{k}", nn.BatchNorm3d(cout, **BN))
            setattr(self, f"t_{k}", nn.Conv3d(cout, cout, (k, 1, 1), padding=(k // 2, 0, 0), bias=False))
            setattr(self, f"bn_t_{k}", nn.BatchNorm3d(cout, **BN))
        self.last = nn.Conv3d(cout, cout, 1, bias=False)
        self.bn_last = nn.BatchNorm3d(cout, **BN)

    def forward(self, x):
        branches = []
        for k in (3, 5):
            y = torch.relu(getattr(self, f"bn_s_{k}")(getattr(self, f"s_{k}")(x)))
            branches.append(torch.relu(getattr(self, f"bn_t_{k}")(getattr(self, f"t_{k}")(y))))
        return torch.relu(self.bn_last(self.last(branches[0] + branches[1])))


class AudioBlock(nn.Module):
    """The audio counterpart: a kx1 convolution over MFCC coefficients, then 1xk over time, for k = 3 and 5."""

    def __init__(self, cin, cout):
        super().__init__()
        for k in (3, 5):
            setattr(self, f"m_{k}", nn.Conv2d(cin, cout, (k, 1), padding=(k // 2, 0), bias=False))
            setattr(self, f"bn_m_{k}", nn.BatchNorm2d(cout, **BN))
            setattr(self, f"t_{k}", nn.Conv2d(cout, cout, (1, k), padding=(0, k // 2), bias=False))
            setattr(self, f"bn_t_{k}", nn.BatchNorm2d(cout, **BN))
        self.last = nn.Conv2d(cout, cout, 1, bias=False)
        self.bn_last = nn.BatchNorm2d(cout, **BN)

    def forward(self, x):
        branches = []
        for k in (3, 5):
            y = torch.relu(getattr(self, f"bn_m_{k}")(getattr(self, f"m_{k}")(x)))
            branches.append(torch.relu(getattr(self, f"bn_t_{k}")(getattr(self, f"t_{k}")(y))))
        return torch.relu(self.bn_last(self.last(branches[0] + branches[1])))


class VisualEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.block1 = VisualBlock(1, 32, down=True)
        self.pool1 = nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))
        self.block2 = VisualBlock(32, 64)
        self.pool2 = nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))
        self.block3 = VisualBlock(64, 128)

    def forward(self, x):  # [B, 1, T, 112, 112] -> [B, T, 128]
        x = self.block3(self.pool2(self.block2(self.pool1(self.block1(x)))))
        return torch.amax(x, dim=(3, 4)).transpose(1, 2)


class AudioEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.block1 = AudioBlock(1, 32)
        self.pool1 = nn.MaxPool2d((1, 3), stride=(1, 2), padding=(0, 1))
        self.block2 = AudioBlock(32, 64)
        self.pool2 = nn.MaxPool2d((1, 3), stride=(1, 2), padding=(0, 1))
        self.block3 = AudioBlock(64, 128)

    def forward(self, x):  # [B, 1, 13, 4T] -> [B, T, 128]
        x = self.block3(self.pool2(self.block2(self.pool1(self.block1(x)))))
        return x.mean(dim=2).transpose(1, 2)


def reverse_time(x):
    """x [B, T, C] in reverse time order, as a product with the T x T exchange matrix: OpenCV 4.6's ONNX importer
    takes neither a negative slice step (torch.flip) nor a Gather of many indices, so windows have a fixed T."""
    exchange = torch.flip(torch.eye(int(x.shape[1])), dims=[0])
    return torch.matmul(x.transpose(1, 2), exchange).transpose(1, 2)


class TwoPassGRU(nn.Module):
    """A GRU forward in time, GELU, a second GRU backward in time, GELU (the weights' `gru_forward`/`gru_backward`).
    The backward pass is written as a GRU over the time-reversed sequence, reversed back."""

    def __init__(self, width=128):
        super().__init__()
        self.gru_forward = nn.GRU(width, width, batch_first=True)
        self.gru_backward = nn.GRU(width, width, batch_first=True)

    def forward(self, x):
        start = torch.zeros(1, x.shape[0], x.shape[2])
        x = nn.functional.gelu(self.gru_forward(x, start)[0])
        x = reverse_time(self.gru_backward(reverse_time(x), start)[0])
        return nn.functional.gelu(x)


class LightASD(nn.Module):
    """Speaking score per video frame: faces [B, 1, T, 112, 112] already normalised, MFCCs [B, 1, 13, 4T]."""

    def __init__(self):
        super().__init__()
        self.visualEncoder = VisualEncoder()
        self.audioEncoder = AudioEncoder()
        self.GRU = TwoPassGRU()
        self.fc = nn.Linear(128, 2)

    def forward(self, faces, mfcc):
        visual = self.visualEncoder(faces)
        audio = self.audioEncoder(mfcc)
        return self.fc(self.GRU(visual + audio))[..., 1]

    @classmethod
    def load(cls, path):
        state = torch.load(path, map_location="cpu", weights_only=True)
        model = cls()
        mine = {}
        for key, value in state.items():
            if key.startswith("model."):
                mine[key[len("model."):]] = value
            elif key.startswith("lossAV.FC."):
                mine["fc." + key[len("lossAV.FC."):]] = value
        model.load_state_dict(mine, strict=True)
        return model.eval()


class ServedVisualBlock(nn.Module):
    """`VisualBlock` with the same weights as 2D convolutions: the spatial 1xkxk kernels run on frames stacked as a
    batch [T, C, H, W], the temporal kx1x1 kernels on [1, C, T, H*W]. OpenCV's 2D convolutions are about three times
    faster than its 3D ones on these shapes."""

    def __init__(self, block: VisualBlock, down: bool):
        super().__init__()
        self.stride = 2 if down else 1
        for k in (3, 5):
            spatial = getattr(block, f"s_{k}")
            s = nn.Conv2d(spatial.in_channels, spatial.out_channels, k, stride=self.stride, padding=k // 2, bias=False)
            s.weight.data = spatial.weight.data[:, :, 0].clone()
            temporal = getattr(block, f"t_{k}")
            t = nn.Conv2d(temporal.in_channels, temporal.out_channels, (k, 1), padding=(k // 2, 0), bias=False)
            t.weight.data = temporal.weight.data[..., 0].clone()
            setattr(self, f"s_{k}", s)
            setattr(self, f"bn_s_{k}", batchnorm2d(getattr(block, f"bn_s_{k}")))
            setattr(self, f"t_{k}", t)
            setattr(self, f"bn_t_{k}", batchnorm2d(getattr(block, f"bn_t_{k}")))
        self.last = nn.Conv2d(block.last.in_channels, block.last.out_channels, 1, bias=False)
        self.last.weight.data = block.last.weight.data[..., 0].clone()
        self.bn_last = batchnorm2d(block.bn_last)

    def forward(self, x):  # [T, Cin, H, W] -> [T, C, H', W']
        frames = x.shape[0]
        branches = []
        for k in (3, 5):
            y = torch.relu(getattr(self, f"bn_s_{k}")(getattr(self, f"s_{k}")(x)))
            channels, height, width = int(y.shape[1]), int(y.shape[2]), int(y.shape[3])
            y = y.permute(1, 0, 2, 3).reshape(1, channels, int(frames), height * width)
            branches.append(torch.relu(getattr(self, f"bn_t_{k}")(getattr(self, f"t_{k}")(y))))
        y = torch.relu(self.bn_last(self.last(branches[0] + branches[1])))
        return y.reshape(channels, int(frames), height, width).permute(1, 0, 2, 3)


def batchnorm2d(bn3d):
    bn = nn.BatchNorm2d(bn3d.num_features, eps=bn3d.eps, momentum=bn3d.momentum)
    bn.load_state_dict(bn3d.state_dict())
    return bn.eval()


class ServedLightASD(nn.Module):
    """What is exported: `LightASD` on one face track's window of fixed length T (OpenCV 4.6 imports GRUs only with
    static shapes). Inputs: faces [T, 1, 112, 112] normalised, MFCCs [1, 1, 13, 4T]; output: [T] speaking scores."""

    def __init__(self, model: LightASD):
        super().__init__()
        encoder = model.visualEncoder
        self.block1 = ServedVisualBlock(encoder.block1, down=True)
        self.block2 = ServedVisualBlock(encoder.block2, down=False)
        self.block3 = ServedVisualBlock(encoder.block3, down=False)
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)
        self.audioEncoder = model.audioEncoder
        self.GRU = model.GRU
        self.fc = model.fc

    def forward(self, faces, mfcc):
        x = self.block3(self.pool(self.block2(self.pool(self.block1(faces)))))
        visual = nn.functional.adaptive_max_pool2d(x, 1).reshape(1, int(faces.shape[0]), 128)
        return self.fc(self.GRU(visual + self.audioEncoder(mfcc)))[..., 1].reshape(-1)
