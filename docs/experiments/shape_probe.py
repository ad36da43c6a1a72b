# A measurement script for docs/tiny-model.md (issue 13), not part of the product: a tiny ViLT-like model in
# PyTorch on scenes drawn like package minidata's (1-5 circles, squares, triangles in five colours, 128 x 160,
# 16-pixel patches), trained on four kinds of question that need a word bound to one item of the picture ("is there
# a <colour> <shape>", "how many <shape>s", "what color is the <shape>", "what shape is the <colour> object").
# It asks how fast the image side learns shapes, with and without a dense per-patch label loss (each patch's
# "<colour> <shape>" or background), outside the Go code. Run with Debian's Python (torch, PIL, numpy):
#   /usr/bin/python3 shape_probe.py vqa 1500     # the questions only
#   /usr/bin/python3 shape_probe.py both 1500    # questions + per-patch labels
#   /usr/bin/python3 shape_probe.py dense 500    # per-patch labels only
# Environment: INIT (0.2), LR (1e-3), L, D, M, NH (4, 96, 384, 3), H, W, P (128, 160, 16), POS=sincos (2-D sine
# position embeddings at start, scaled by POSSCALE), EVERY (250), THREADS (2), SAVE (where the weights go).
import math, random, sys, time, os
import numpy as np
import torch, torch.nn as nn, torch.nn.functional as F
from PIL import Image, ImageDraw

H, W, P = int(os.environ.get("H", "128")), int(os.environ.get("W", "160")), int(os.environ.get("P", "16"))
COLORS = {"red": (205, 35, 35), "green": (35, 155, 55), "blue": (40, 75, 205), "yellow": (240, 200, 20), "gray": (115, 115, 115)}
CN = list(COLORS)
SN = ["circle", "square", "triangle"]

def scene(r):
    n = 1 + r.choices(range(5), weights=[3, 4, 4, 3, 2])[0]
    md = H; gap = 0.04 * md
    rmin, rmax = 0.09 * md, (0.185 - 0.015 * n) * md
    objs = []
    for _ in range(n):
        o = dict(s=r.randrange(3), c=r.randrange(5), R=rmin + r.random() * (rmax - rmin), a=(r.random() - .5) * .6)
        b = {0: 1.0, 1: 0.85 * math.sqrt(2), 2: 1.5}[o["s"]] * o["R"]
        o["b"] = b
        for _ in range(200):
            o["x"] = b + gap + r.random() * (W - 2 * (b + gap)); o["y"] = b + gap + r.random() * (H - 2 * (b + gap))
            if all((o["x"] - p["x"]) ** 2 + (o["y"] - p["y"]) ** 2 >= (b + p["b"] + gap) ** 2 for p in objs):
                objs.append(o); break
    return objs

def poly(o, k):
    x, y, R, a = o["x"] * k, o["y"] * k, o["R"] * k, o["a"]
    if o["s"] == 1:
        h = 0.85 * R; pts = [(-h, -h), (h, -h), (h, h), (-h, h)]
    else:
        c = 1.5 * R; pts = [(c * math.sin(t), -c * math.cos(t)) for t in (0, 2 * math.pi / 3, 4 * math.pi / 3)]
    ca, sa = math.cos(a), math.sin(a)
    return [(x + px * ca - py * sa, y + px * sa + py * ca) for px, py in pts]

def render(objs, r):
    k = 4
    g = np.linspace(0, 1, W * k)[None, :, None] * np.array([-20, 10, 15]) + np.array([210, 222, 225])
    img = Image.fromarray(np.broadcast_to(g, (H * k, W * k, 3)).astype(np.uint8))
    lab = Image.new("L", (W * k, H * k), 0)
    d, dl = ImageDraw.Draw(img), ImageDraw.Draw(lab)
    for i, o in enumerate(objs):
        col = tuple(int(min(255, max(0, v + r.randint(-12, 12)))) for v in COLORS[CN[o["c"]]])
        li = 1 + o["c"] * 3 + o["s"]
        if o["s"] == 0:
            bb = [(o["x"] - o["R"]) * k, (o["y"] - o["R"]) * k, (o["x"] + o["R"]) * k, (o["y"] + o["R"]) * k]
            d.ellipse(bb, fill=col); dl.ellipse(bb, fill=li)
        else:
            d.polygon(poly(o, k), fill=col); dl.polygon(poly(o, k), fill=li)
    img = np.asarray(img.resize((W, H), Image.BILINEAR)).astype(np.float32)
    img += np.random.default_rng(r.randrange(1 << 30)).normal(0, 4, img.shape)
    lab = np.asarray(lab.resize((W, H), Image.NEAREST))
    # per-patch label: the object covering most of the patch if >= 25% of it, else background (0)
    pl = np.zeros((H // P, W // P), np.int64)
    for i in range(H // P):
        for j in range(W // P):
            v = np.bincount(lab[i * P:(i + 1) * P, j * P:(j + 1) * P].ravel(), minlength=16)
            v[0] = 0
            if v.max() >= 0.25 * P * P: pl[i, j] = v.argmax()
    return np.clip(img, 0, 255).astype(np.uint8), pl

ANS = ["yes", "no"] + CN + SN + [str(i) for i in range(6)]
AI = {a: i for i, a in enumerate(ANS)}

def questions(objs, r):
    qs = []
    pairs = {(o["c"], o["s"]) for o in objs}
    # is there a C S: half positive
    if r.random() < 0.5 and objs:
        o = r.choice(objs); c, s = o["c"], o["s"]
    else:
        c, s = r.randrange(5), r.randrange(3)
    qs.append((f"is there a {CN[c]} {SN[s]}", "yes" if (c, s) in pairs else "no"))
    s = r.randrange(3)
    qs.append((f"how many {SN[s]}s are there", str(sum(o["s"] == s for o in objs))))
    for s in range(3):
        m = [o for o in objs if o["s"] == s]
        if len(m) == 1: qs.append((f"what color is the {SN[s]}", CN[m[0]["c"]]))
    for c in range(5):
        m = [o for o in objs if o["c"] == c]
        if len(m) == 1: qs.append((f"what shape is the {CN[c]} object", SN[m[0]["s"]]))
    return qs

def kind(q): return " ".join(q.split()[:2])

VOCAB = ["[CLS]", "[PAD]"] + sorted({w for q in ["is there a", "how many are there", "what color is the", "what shape is the object"] for w in q.split()} | set(CN) | set(SN) | {s + "s" for s in SN})
VI = {w: i for i, w in enumerate(VOCAB)}
T = 8

def build(nscenes, seed):
    r = random.Random(seed)
    imgs, pls, data = [], [], []
    for i in range(nscenes):
        o = scene(r); im, pl = render(o, r)
        imgs.append(im); pls.append(pl)
        for q, a in questions(o, r):
            ids = [VI["[CLS]"]] + [VI[w] for w in q.split()]
            ids += [VI["[PAD]"]] * (T - len(ids))
            data.append((i, ids, AI[a], kind(q)))
    return torch.tensor(np.stack(imgs)).permute(0, 3, 1, 2).contiguous(), torch.tensor(np.stack(pls)), data

class Layer(nn.Module):
    def __init__(s, d, h, m):
        super().__init__(); s.h = h
        s.ln1, s.ln2 = nn.LayerNorm(d, eps=1e-12), nn.LayerNorm(d, eps=1e-12)
        s.qkv, s.o = nn.Linear(d, 3 * d), nn.Linear(d, d)
        s.f1, s.f2 = nn.Linear(d, m), nn.Linear(m, d)
    def forward(s, x, mask):
        B, N, D = x.shape
        q, k, v = s.qkv(s.ln1(x)).view(B, N, 3, s.h, D // s.h).permute(2, 0, 3, 1, 4)
        a = (q @ k.transpose(-1, -2)) / math.sqrt(D // s.h) + mask
        x = x + s.o((a.softmax(-1) @ v).transpose(1, 2).reshape(B, N, D))
        return x + s.f2(F.gelu(s.f1(s.ln2(x))))

def sincos2d(d, gh, gw):
    # MAE-style: half the channels encode the row, half the column, each with sin and cos at d/4 frequencies.
    q = d // 4
    om = 1.0 / (10000 ** (torch.arange(q, dtype=torch.float32) / q))
    y, x = torch.meshgrid(torch.arange(gh, dtype=torch.float32), torch.arange(gw, dtype=torch.float32), indexing="ij")
    def enc(p): a = p.flatten()[:, None] * om[None]; return torch.cat([a.sin(), a.cos()], 1)
    return torch.cat([enc(y), enc(x)], 1)

class Model(nn.Module):
    def __init__(s, d=96, h=3, m=384, L=4, init=0.2):
        super().__init__()
        s.tok, s.tpos, s.typ = nn.Embedding(len(VOCAB), d), nn.Embedding(T, d), nn.Embedding(2, d)
        s.tln = nn.LayerNorm(d, eps=1e-12)
        s.patch = nn.Conv2d(3, d, P, P); s.ppos = nn.Parameter(torch.zeros(1, (H // P) * (W // P) + 1, d)); s.icls = nn.Parameter(torch.zeros(1, 1, d))
        s.layers = nn.ModuleList([Layer(d, h, m) for _ in range(L)]); s.ln = nn.LayerNorm(d, eps=1e-12)
        s.pool = nn.Linear(d, d); s.cls = nn.Sequential(nn.Linear(d, 2 * d), nn.LayerNorm(2 * d), nn.GELU(), nn.Linear(2 * d, len(ANS)))
        s.dense = nn.Linear(d, 16)
        for mod in s.modules():
            if isinstance(mod, (nn.Linear, nn.Embedding, nn.Conv2d)):
                nn.init.normal_(mod.weight, 0, init)
                if getattr(mod, "bias", None) is not None: nn.init.zeros_(mod.bias)
        nn.init.normal_(s.ppos, 0, init); nn.init.normal_(s.icls, 0, init)
        if os.environ.get("POS") == "sincos":
            with torch.no_grad():
                s.ppos[0, 1:] = sincos2d(d, H // P, W // P) * float(os.environ.get("POSSCALE", "1"))
    def forward(s, img, ids):
        B = img.shape[0]
        t = s.tln(s.tok(ids) + s.tpos.weight[None]) + s.typ.weight[0]
        x = (img.float() / 255 - 0.5) / 0.5
        p = s.patch(x).flatten(2).transpose(1, 2)
        p = torch.cat([s.icls.expand(B, -1, -1), p], 1) + s.ppos + s.typ.weight[1]
        z = torch.cat([t, p], 1)
        mask = torch.cat([(ids == VI["[PAD]"]).float() * -1e4, torch.zeros(B, p.shape[1])], 1)[:, None, None, :]
        for l in s.layers: z = l(z, mask)
        z = s.ln(z)
        return s.cls(torch.tanh(s.pool(z[:, 0]))), s.dense(z[:, T + 1:])

def main():
    mode, steps = sys.argv[1], int(sys.argv[2])
    torch.manual_seed(0); torch.set_num_threads(int(os.environ.get("THREADS", "2")))
    t0 = time.time()
    imgs, pls, data = build(8000, 1)
    vimgs, vpls, vdata = build(400, 3)
    print(f"built {len(data)} train q, {len(vdata)} val q in {time.time()-t0:.0f}s", flush=True)
    init = float(os.environ.get("INIT", "0.2")); lr = float(os.environ.get("LR", "1e-3"))
    m = Model(init=init, L=int(os.environ.get("L", "4")), d=int(os.environ.get("D", "96")), m=int(os.environ.get("M", "384")), h=int(os.environ.get("NH", "3"))); opt = torch.optim.AdamW(m.parameters(), lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / (0.1 * steps), max(0.0, (steps - s) / (0.9 * steps))))
    r = random.Random(0); B = 32
    def evaluate():
        m.eval(); acc = {}
        with torch.no_grad():
            for i in range(0, len(vdata), 256):
                b = vdata[i:i + 256]
                lo, dl = m(vimgs[[x[0] for x in b]], torch.tensor([x[1] for x in b]))
                pr = lo.argmax(-1)
                for x, p in zip(b, pr.tolist()): acc.setdefault(x[3], []).append(p == x[2])
            lo, dl = m(vimgs[:256], torch.zeros(256, T, dtype=torch.long))
            t = vpls[:256].flatten(1); pr = dl.argmax(-1); obj = t > 0
            dacc = (pr == t)[obj].float().mean().item()
            sacc = ((pr - 1) % 3 == (t - 1) % 3)[obj & (pr > 0)].float().mean().item()
            cacc = ((pr - 1) // 3 == (t - 1) // 3)[obj & (pr > 0)].float().mean().item()
        m.train()
        tot = np.mean([v for vs in acc.values() for v in vs])
        return f"val {100*tot:.2f} " + " ".join(f"{k}:{100*np.mean(v):.1f}" for k, v in sorted(acc.items())) + f" dense-obj:{100*dacc:.1f} shape:{100*sacc:.1f} colour:{100*cacc:.1f}"
    t0 = time.time(); run = 0; EV = int(os.environ.get("EVERY", "250"))
    for step in range(1, steps + 1):
        b = r.sample(data, B)
        ii = [x[0] for x in b]
        lo, dl = m(imgs[ii], torch.tensor([x[1] for x in b]))
        loss = F.cross_entropy(lo, torch.tensor([x[2] for x in b]))
        dense = F.cross_entropy(dl.reshape(-1, 16), pls[ii].flatten())
        tot = {"vqa": loss, "dense": dense, "both": loss + dense}[mode]
        opt.zero_grad(); tot.backward(); opt.step(); sched.step()
        run += loss.item()
        if step % EV == 0:
            print(f"step {step} vqa-loss {run/EV:.3f} {time.time()-t0:.0f}s {evaluate()}", flush=True); run = 0
    torch.save(m.state_dict(), os.environ.get("SAVE", f"/tmp/shape-probe-{mode}-{steps}.pt"))

if __name__ == "__main__":
    main()
