/**
 * The audio library's conversion to 8 kHz, off the main thread: a minute of 48 kHz audio is
 * several seconds of CPU for the windowed-sinc resampler, which must not share the event loop with
 * the mixer's 20 ms clock. Started once per upload by AudioLibrary with the samples and their rate;
 * posts back the 8 kHz samples (their buffer transferred, not copied) and ends.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SAMPLE_RATE_HZ } from '../audio/format.js';
import { resample } from '../audio/resample.js';

const { samples, fromHz } = workerData as { samples: Int16Array; fromHz: number };
const out = resample(samples, fromHz, SAMPLE_RATE_HZ);
parentPort!.postMessage(out, [out.buffer as ArrayBuffer]);
