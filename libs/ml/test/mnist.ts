// The first `count` samples of an MNIST split: the one shared fixture, under the name these tests use.
export { mnistSamples as loadMnist } from '@mlpipe/testing';
