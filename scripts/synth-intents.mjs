// A synthetic intent-classification data set (JSONL lines {"text": ..., "label": ...}) for measuring and
// testing `torchkd text`: 20 intents in confusable families (book / cancel / status of flights, hotels,
// orders, alarms...), several templates each with slot words, polite fillers, typos, dropped words and a
// little label noise, so that neither a bag of words nor a transformer gets everything right.
//   node scripts/synth-intents.mjs OUT_DIR [--train 15000] [--valid 0] [--test 3000] [--seed 1] [--noise 0.03]
// writes OUT_DIR/train.jsonl, OUT_DIR/test.jsonl (and OUT_DIR/valid.jsonl with --valid N).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** mulberry32: a small seeded PRNG returning floats in [0, 1). */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SLOTS = {
  city: ['paris', 'london', 'tokyo', 'berlin', 'new york', 'madrid', 'rome', 'lisbon', 'oslo', 'cairo', 'lima', 'seoul', 'dublin', 'vienna', 'prague', 'boston', 'denver', 'austin', 'miami', 'sydney'],
  day: ['today', 'tomorrow', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday', 'next week', 'this weekend', 'on the 5th', 'on march 3rd', 'tonight'],
  time: ['7 am', '6:30', 'noon', 'midnight', '8 pm', 'half past nine', '5 in the morning', '10:15', 'quarter to seven'],
  food: ['pizza', 'sushi', 'a burger', 'pad thai', 'tacos', 'a salad', 'ramen', 'curry', 'dumplings', 'pasta'],
  song: ['some jazz', 'the new album', 'my workout playlist', 'classical music', 'something relaxing', 'rock songs', 'the beatles', 'lofi beats'],
  amount: ['50 dollars', '200 euros', '1000', 'twenty bucks', '75 pounds', '300 dollars'],
  account: ['savings', 'checking', 'my joint account', 'the business account'],
  lang: ['french', 'spanish', 'german', 'japanese', 'italian', 'korean'],
  phrase: ['good morning', 'where is the station', 'thank you very much', 'how much is this', 'i am lost'],
  person: ['mom', 'john', 'the dentist', 'my boss', 'sarah', 'the team'],
  event: ['a meeting', 'lunch', 'a dentist appointment', 'a call', 'the review', 'dinner'],
  thing: ['my order', 'the package', 'my parcel', 'the delivery'],
};

// Intent → templates; {slot} is filled from SLOTS. Families share verbs and nouns on purpose.
const INTENTS = {
  book_flight: ['book a flight to {city} {day}', 'i need a plane ticket from {city} to {city}', 'find me flights to {city} leaving {day}', 'can i fly to {city} {day}', 'reserve a seat on a flight to {city}'],
  cancel_flight: ['cancel my flight to {city}', 'i want to cancel the flight {day}', 'please drop my plane booking to {city}', 'i no longer need my flight to {city}', 'call off my trip by plane {day}'],
  flight_status: ['is my flight to {city} on time', 'what is the status of my flight {day}', 'has the flight from {city} been delayed', 'when does my plane land in {city}', 'check my flight status'],
  book_hotel: ['book a hotel in {city} {day}', 'i need a room in {city} for {day}', 'find me a place to stay in {city}', 'reserve a hotel room {day}', 'get me accommodation in {city}'],
  cancel_hotel: ['cancel my hotel in {city}', 'i want to cancel the room i booked {day}', 'please drop my hotel reservation', 'i no longer need the hotel in {city}', 'call off the room booking {day}'],
  weather: ['what is the weather in {city} {day}', 'will it rain {day}', 'do i need an umbrella in {city}', 'how hot will it be {day}', 'forecast for {city} {day}'],
  set_alarm: ['set an alarm for {time}', 'wake me up at {time} {day}', 'i need an alarm at {time}', 'alarm for {time} please', 'make sure i am up by {time}'],
  cancel_alarm: ['cancel my alarm for {time}', 'turn off the alarm {day}', 'i no longer need the {time} alarm', 'delete the alarm at {time}', 'call off my wake up call'],
  play_music: ['play {song}', 'put on {song}', 'i want to listen to {song}', 'start playing {song} please', 'can you play {song} in the kitchen'],
  pause_music: ['pause the music', 'stop playing {song}', 'turn the music off', 'pause this song', 'no more music for now'],
  transfer_money: ['transfer {amount} to {account}', 'send {amount} from {account} to {account}', 'move {amount} into {account}', 'pay {person} {amount}', 'wire {amount} to {person}'],
  check_balance: ['what is my balance in {account}', 'how much money is in {account}', 'check the balance of {account}', 'how much do i have left', 'show my account balance'],
  order_food: ['order {food} for {time}', 'i want {food} delivered', 'get me {food} from the place nearby', 'can i order {food} {day}', 'food delivery of {food} please'],
  cancel_order: ['cancel {thing}', 'i want to cancel the food i ordered', 'please drop my order of {food}', 'i no longer need {thing}', 'call off the delivery of {food}'],
  track_order: ['where is {thing}', 'track {thing}', 'when will {thing} arrive', 'has {thing} shipped yet', 'status of my delivery {day}'],
  reset_password: ['i forgot my password', 'reset my password please', 'i cannot log in to my account', 'help me change my password', 'my login is not working'],
  translate: ['translate {phrase} into {lang}', 'how do you say {phrase} in {lang}', 'what is {phrase} in {lang}', 'say {phrase} in {lang} please', '{lang} translation of {phrase}'],
  add_event: ['add {event} with {person} {day}', 'schedule {event} at {time} {day}', 'put {event} on my calendar {day}', 'book {event} with {person} at {time}', 'remind me of {event} {day}'],
  greeting: ['hello there', 'hi how are you', 'good morning assistant', 'hey what is up', 'hello it is me again'],
  goodbye: ['bye for now', 'see you later', 'good night assistant', 'that is all thanks bye', 'talk to you tomorrow goodbye'],
};

const PREFIXES = ['', '', '', 'please ', 'hey ', 'could you ', 'um ', 'ok so ', 'i was wondering if you could ', 'quick question '];
const SUFFIXES = ['', '', '', ' please', ' thanks', ' asap', ' if you can', ' right now', ' for me'];

/** A copy of word w with two adjacent letters swapped (a typo). */
function typo(w, rand) {
  if (w.length < 4) return w;
  const i = 1 + Math.floor(rand() * (w.length - 2));
  return w.slice(0, i - 1) + w[i] + w[i - 1] + w.slice(i + 1);
}

// Which intents are easily confused (same family: shared verbs or objects).
const FAMILIES = [
  ['book_flight', 'cancel_flight', 'flight_status', 'book_hotel', 'cancel_hotel'],
  ['set_alarm', 'cancel_alarm', 'add_event'],
  ['play_music', 'pause_music'],
  ['transfer_money', 'check_balance'],
  ['order_food', 'cancel_order', 'track_order'],
  ['reset_password', 'translate', 'weather', 'greeting', 'goodbye'],
];

// Contrastive frames: the label is the intent of {a}; {b} is another intent that is mentioned but not wanted.
const CONTRASTS = ['not {b} , {a}', '{a} , not {b}', 'forget about {b} , {a}', 'instead of {b} just {a}', 'i do not want to {b} , {a}',
  '{a} rather than {b}', 'no need to {b} , {a}'];

function fill(template, pick) {
  return template.replace(/\{(\w+)\}/g, (_, slot) => pick(SLOTS[slot]));
}

/**
 * One sentence of an intent: a template with slots and fillers, or (with probability `contrast`) a
 * contrastive frame naming a second, unwanted intent of the same family, whose words a bag of words cannot
 * tell apart from the wanted one; then typos (4% of words) and dropped words (5%).
 */
function sentence(intent, rand, contrast) {
  const pick = (xs) => xs[Math.floor(rand() * xs.length)];
  let core = fill(pick(INTENTS[intent]), pick);
  if (rand() < contrast) {
    const family = FAMILIES.find((f) => f.includes(intent)).filter((x) => x !== intent);
    const other = family.length > 0 && rand() < 0.8 ? pick(family) : pick(Object.keys(INTENTS).filter((x) => x !== intent));
    core = pick(CONTRASTS).replace('{a}', core).replace('{b}', fill(pick(INTENTS[other]), pick)).replace(/ ,/g, ',');
  }
  const words = `${pick(PREFIXES)}${core}${pick(SUFFIXES)}`.split(' ');
  const out = words.filter(() => words.length < 4 || rand() > 0.05).map((w) => (rand() < 0.04 ? typo(w, rand) : w));
  return out.join(' ');
}

/**
 * `n` examples {text, label} with a uniform intent distribution, a fraction `contrast` of them contrastive
 * (default 0.3); a fraction `noise` of them get a random wrong label (annotation noise).
 */
export function generateIntents(n, { seed = 1, noise = 0, contrast = 0.3 } = {}) {
  const rand = prng(seed);
  const labels = Object.keys(INTENTS);
  const rows = [];
  for (let i = 0; i < n; i++) {
    const intent = labels[Math.floor(rand() * labels.length)];
    let label = intent;
    if (rand() < noise) label = labels[Math.floor(rand() * labels.length)];
    rows.push({ text: sentence(intent, rand, contrast), label });
  }
  return rows;
}

export const INTENT_NAMES = Object.keys(INTENTS);

export function toJsonl(rows) {
  return rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const out = args[0];
  if (!out || out.startsWith('--')) {
    console.error('usage: node scripts/synth-intents.mjs OUT_DIR [--train 15000] [--valid 0] [--test 3000] [--seed 1] [--noise 0.03]');
    process.exit(2);
  }
  const opt = (name, def) => {
    const i = args.indexOf(`--${name}`);
    return i < 0 ? def : Number(args[i + 1]);
  };
  const seed = opt('seed', 1);
  const noise = opt('noise', 0.03);
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'train.jsonl'), toJsonl(generateIntents(opt('train', 15000), { seed, noise })));
  if (opt('valid', 0) > 0) writeFileSync(join(out, 'valid.jsonl'), toJsonl(generateIntents(opt('valid', 0), { seed: seed + 1000, noise })));
  writeFileSync(join(out, 'test.jsonl'), toJsonl(generateIntents(opt('test', 3000), { seed: seed + 2000 })));
  console.log(`wrote ${out}/train.jsonl${opt('valid', 0) > 0 ? ', valid.jsonl' : ''}, test.jsonl`);
}
