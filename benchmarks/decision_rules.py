"""Sweep decision rules over sequences (frames loaded once per sequence)."""
import sys, json, itertools
import numpy as np, torch
torch.set_num_threads(1)
from rgbtfuse.data import load_sequence
from rgbtfuse.tracking import FrameReader, annotated
from rgbtfuse.data.annotations import box_iou
from trackers.models.builder import build_tracker, load_experiment
from trackers.tracker.decision import DecisionConfig, DecisionTracker
W="/work/shared/weights/nanotrack/pretrained/nanotrackv2.pth"
cfg=load_experiment("experiments/nanotrack_v2_l1.yaml")
seqs=sys.argv[1].split(",")
variants=json.loads(sys.argv[2])
res={}
for sp in seqs:
    seq=load_sequence(sp); rd=FrameReader(seq); frames=[rd(i) for i in range(len(seq))]
    sc=annotated(seq.boxes,0)
    def run(tr):
        tr.init(*frames[0], tuple(seq.boxes[0]))
        boxes=np.full((len(seq),4),np.nan); boxes[0]=seq.boxes[0]; br=[]
        for i in range(1,len(seq)):
            o=tr.track(*frames[i]); boxes[i]=o["bbox"]; br.append(o.get("branch"))
        return float(np.mean(box_iou(boxes[sc],seq.boxes[sc]))), br
    row={}
    for m in ("rgb","ir","fused"):
        row[m]=run(build_tracker(cfg,W,mode=m,device="cpu"))[0]
    for name,v in variants.items():
        tr=build_tracker({**cfg,"decision":v},W,mode="decision",device="cpu")
        iou,br=run(tr); row[name]=iou
        row[name+"_br"]="".join({"rgb":"r","ir":"i","fused":"f","dfat":"d",None:"-"}[b] for b in br)
    res[seq.name]=row
    print(seq.name, {k:(round(v,3) if isinstance(v,float) else v) for k,v in row.items() if not k.endswith("_br")}, flush=True)
    for k,v in row.items():
        if k.endswith("_br"): print("  ",k,v)
json.dump(res,open(sys.argv[3],"w"),indent=1)
