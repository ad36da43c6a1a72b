#!/usr/bin/python3
"""Reference expectations for the Go port in vqa/vqaeval (not needed by the tests).

An independent Python transcription of the official VQA evaluation steps as
docs/vqa-eval-spec.md describes them (GT-Vision-Lab/VQA vqaEval.py,
a013f0043c1e2cdc995922dfe257f7149aa9af06): processPunctuation,
processDigitArticle, the leave-one-out accuracy with the all-identical quirk,
and the rounding, on hand-picked inputs and on random strings (fixed seed)
over an alphabet rich in the characters the rules touch. It runs under Python's own regular expressions, str.lower,
str.split and round, and writes official_cases.json, which the Go tests read.

Regenerate with: /usr/bin/python3 official_cases.py > official_cases.json
"""
import json
import random
import re

PUNCT = [';', '/', '[', ']', '"', '{', '}', '(', ')', '=', '+', '\\', '_', '-',
         '>', '<', '@', '`', ',', '?', '!']
NUMBERS = {'none': '0', 'zero': '0', 'one': '1', 'two': '2', 'three': '3',
           'four': '4', 'five': '5', 'six': '6', 'seven': '7', 'eight': '8',
           'nine': '9', 'ten': '10'}
ARTICLES = ['a', 'an', 'the']
PERIOD_STRIP = re.compile(r"(?!<=\d)(\.)(?!\d)")
COMMA_STRIP = re.compile(r"(\d)(\,)(\d)")
CONTRACTIONS = {  # the spec's table, in source order
    'aint': "ain't",
    'arent': "aren't",
    'cant': "can't",
    'couldve': "could've",
    'couldnt': "couldn't",
    "couldn'tve": "couldn't've",
    "couldnt've": "couldn't've",
    'didnt': "didn't",
    'doesnt': "doesn't",
    'dont': "don't",
    'hadnt': "hadn't",
    "hadnt've": "hadn't've",
    "hadn'tve": "hadn't've",
    'hasnt': "hasn't",
    'havent': "haven't",
    'hed': "he'd",
    "hed've": "he'd've",
    "he'dve": "he'd've",
    'hes': "he's",
    'howd': "how'd",
    'howll': "how'll",
    'hows': "how's",
    "Id've": "I'd've",
    "I'dve": "I'd've",
    'Im': "I'm",
    'Ive': "I've",
    'isnt': "isn't",
    'itd': "it'd",
    "itd've": "it'd've",
    "it'dve": "it'd've",
    'itll': "it'll",
    "let's": "let's",
    'maam': "ma'am",
    'mightnt': "mightn't",
    "mightnt've": "mightn't've",
    "mightn'tve": "mightn't've",
    'mightve': "might've",
    'mustnt': "mustn't",
    'mustve': "must've",
    'neednt': "needn't",
    'notve': "not've",
    'oclock': "o'clock",
    'oughtnt': "oughtn't",
    "ow's'at": "'ow's'at",
    "'ows'at": "'ow's'at",
    "'ow'sat": "'ow's'at",
    'shant': "shan't",
    "shed've": "she'd've",
    "she'dve": "she'd've",
    "she's": "she's",
    'shouldve': "should've",
    'shouldnt': "shouldn't",
    "shouldnt've": "shouldn't've",
    "shouldn'tve": "shouldn't've",
    "somebody'd": 'somebodyd',
    "somebodyd've": "somebody'd've",
    "somebody'dve": "somebody'd've",
    'somebodyll': "somebody'll",
    'somebodys': "somebody's",
    'someoned': "someone'd",
    "someoned've": "someone'd've",
    "someone'dve": "someone'd've",
    'someonell': "someone'll",
    'someones': "someone's",
    'somethingd': "something'd",
    "somethingd've": "something'd've",
    "something'dve": "something'd've",
    'somethingll': "something'll",
    'thats': "that's",
    'thered': "there'd",
    "thered've": "there'd've",
    "there'dve": "there'd've",
    'therere': "there're",
    'theres': "there's",
    'theyd': "they'd",
    "theyd've": "they'd've",
    "they'dve": "they'd've",
    'theyll': "they'll",
    'theyre': "they're",
    'theyve': "they've",
    'twas': "'twas",
    'wasnt': "wasn't",
    "wed've": "we'd've",
    "we'dve": "we'd've",
    'weve': "we've",
    'werent': "weren't",
    'whatll': "what'll",
    'whatre': "what're",
    'whats': "what's",
    'whatve': "what've",
    'whens': "when's",
    'whered': "where'd",
    'wheres': "where's",
    'whereve': "where've",
    'whod': "who'd",
    "whod've": "who'd've",
    "who'dve": "who'd've",
    'wholl': "who'll",
    'whos': "who's",
    'whove': "who've",
    'whyll': "why'll",
    'whyre': "why're",
    'whys': "why's",
    'wont': "won't",
    'wouldve': "would've",
    'wouldnt': "wouldn't",
    "wouldnt've": "wouldn't've",
    "wouldn'tve": "wouldn't've",
    'yall': "y'all",
    "yall'll": "y'all'll",
    "y'allll": "y'all'll",
    "yall'd've": "y'all'd've",
    "y'alld've": "y'all'd've",
    "y'all'dve": "y'all'd've",
    'youd': "you'd",
    "youd've": "you'd've",
    "you'dve": "you'd've",
    'youll': "you'll",
    'youre': "you're",
    'youve': "you've",
}


def process_punctuation(text):
    out = text
    for p in PUNCT:
        if (p + ' ' in text or ' ' + p in text) or COMMA_STRIP.search(text) is not None:
            out = out.replace(p, '')
        else:
            out = out.replace(p, ' ')
    return PERIOD_STRIP.sub('', out, re.UNICODE)  # the official count quirk


def process_digit_article(text):
    words = []
    for w in text.lower().split():
        w = NUMBERS.get(w, w)
        if w not in ARTICLES:
            words.append(w)
    return ' '.join(CONTRACTIONS.get(w, w) for w in words)


def clean(s):
    return s.replace('\n', ' ').replace('\t', ' ').strip()


def accuracy(pred, humans):
    pred = clean(pred)
    gts = [{'answer': clean(h), 'answer_id': i + 1} for i, h in enumerate(humans)]
    if len(set(g['answer'] for g in gts)) > 1:
        for g in gts:
            g['answer'] = process_digit_article(process_punctuation(g['answer']))
        pred = process_digit_article(process_punctuation(pred))
    accs = []
    for g in gts:
        others = [o for o in gts if o != g]
        accs.append(min(1, float(len([o for o in others if o['answer'] == pred])) / 3))
    return float(sum(accs)) / len(accs)


NORMALIZE = [
    "100,978", "red, white", "red,white", "1,000-2,000", "3.5", "ok.", "5. ",
    "Two dogs", "NONE", "eleven", "twenty", "the table", "a cat", "an apple",
    "Dont", "dont know", "Im", "Ive", "somebody'd", "let's", "she's", "ow's'at",
    "girl's", "2:50", "#1", "$5", "50%", "a&b", "*", "~", "^", "|",
    "yes!", "no?", "(left)", "[x]", "{y}", "a=b", "c+d", "e\\f", "g_h", "i-j",
    "k>l", "m<n", "o@p", "q`r", "x/y", "x;y", 'say "hi"', "hi!!", "- 5", "5 -",
    "well,1,2", "1 ,2", "..", ".5", "5.", "a.b.c", "1.2.3", "e.g.", "u.s.a.",
    "  spaced   out  ", "", " ", "the", "a an the", "the the cat",
    "." * 40, "a." * 40, "x.1" * 3,
    "ΟΔΟΣ", "ΟΔΟΣ ΟΔΟΣ", "Σ", "ΑΣ.", "ΑΣ'Α", "İstanbul", "ÉCOLE", "Straße",
    "one\u00a0two", "one\u2003two", "one\x1ctwo", "one\x85two",
    "١,٢", "٣.", "٣.٤", "3,٤",
    "couldn'tve", "COULDNT", "y'allll", "yall'd've", "twas", "oclock",
]

ACCURACY = [
    ("down", ["down"] * 7 + ["at table", "skateboard", "table"]),
    ("table", ["down"] * 7 + ["at table", "skateboard", "table"]),
    ("at table", ["down"] * 7 + ["at table", "skateboard", "table"]),
    ("the table", ["down"] * 7 + ["at table", "skateboard", "table"]),
    ("up", ["down"] * 7 + ["at table", "skateboard", "table"]),
    ("2", ["Two"] * 10),
    ("Two", ["Two"] * 10),
    ("two", ["Two"] * 10),
    ("2", ["Two"] * 9 + ["2"]),
    ("2", ["two"] * 3 + ["3"] * 7),
    ("yes", ["yes"] * 2 + ["no"] * 8),
    (" yes\n", ["yes"] * 4 + ["no"] * 6),
    ("yes", ["yes\t"] * 5 + ["yes"] * 5),
    ("red white", ["red, white"] * 3 + ["red"] * 7),
    ("100978", ["100,978"] * 10),
    ("100978", ["100,978"] * 9 + ["100"]),
    ("the cat", ["cat"] * 10),
    ("cat", ["cat."] * 6 + ["cat"] * 4),
]


# Questions for the aggregation: (question_id, question_type, answer_type, prediction, humans).
EVALUATE = [
    (1, "what color is the", "other", "red", ["red"] * 2 + ["blue"] * 8),
    (2, "what color is the", "other", "blue", ["red"] * 2 + ["blue"] * 8),
    (3, "how many", "number", "2", ["2"] * 3 + ["3"] * 7),
    (4, "how many", "number", "two", ["2"] * 1 + ["3"] * 9),
    (5, "is the", "yes/no", "yes", ["yes"] * 10),
    (6, "is the", "yes/no", "no", ["yes"] * 10),
    (7, "is the", "yes/no", "yes", ["yes"] * 3 + ["no"] * 7),
    (8, "none of the above", "other", "at table", ["down"] * 7 + ["at table", "skateboard", "table"]),
]


def evaluate():
    per_q, all_acc, by_q, by_a = {}, [], {}, {}
    for qid, qtype, atype, pred, humans in EVALUATE:
        acc = accuracy(pred, humans)
        per_q[str(qid)] = round(100 * acc, 2)
        all_acc.append(acc)
        by_q.setdefault(qtype, []).append(acc)
        by_a.setdefault(atype, []).append(acc)
    return {
        "questions": [{"question_id": q, "question_type": qt, "answer_type": at, "pred": p, "humans": h}
                      for q, qt, at, p, h in EVALUATE],
        "overall": round(100 * float(sum(all_acc)) / len(all_acc), 2),
        "perQuestionType": {k: round(100 * float(sum(v)) / len(v), 2) for k, v in by_q.items()},
        "perAnswerType": {k: round(100 * float(sum(v)) / len(v), 2) for k, v in by_a.items()},
        "perQuestion": per_q,
    }


def random_cases(seed=2014, n_norm=1000, n_acc=300):
    """Random strings over an alphabet rich in the characters the rules touch."""
    rng = random.Random(seed)
    alphabet = (list(";/[]\"{}()=+\\_-><@`,?!.'':#$%&*~^|") + list("0123456789") + [" ", " ", "  ", "\t", "\n", "\xa0", "\x1c"]
                + ["a", "an", "the", "two", "none", "ten", "dont", "ive", "yall'll", "twas", "cat", "Red", "ΟΔΟΣ", "Σ", "İ", "٣", "é"])
    def rand_str():
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
    norm = [rand_str() for _ in range(n_norm)]
    acc = []
    for _ in range(n_acc):
        pool = [rand_str() for _ in range(rng.randint(1, 4))]
        humans = [rng.choice(pool) for _ in range(10)]
        pred = rng.choice(pool + [rand_str()])
        acc.append((pred, humans))
    return norm, acc


def main():
    rnd_norm, rnd_acc = random_cases()
    out = {
        "evaluate": evaluate(),
        "normalize": [{"in": s, "out": process_digit_article(process_punctuation(s))} for s in NORMALIZE + rnd_norm],
        "accuracy": [{"pred": p, "humans": h, "acc": accuracy(p, h)} for p, h in ACCURACY + rnd_acc],
        "round2": [{"x": x, "out": round(x, 2)} for x in
                   [2.675, 0.125, 0.375, 1.005, 43.3333333333, 66.665, 99.995, 100 * 0.3, 100 * (1 + 0.3 + 0.6) / 3]],
    }
    print(json.dumps(out, indent=1, ensure_ascii=True))


main()
