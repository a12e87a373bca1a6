import fs from 'node:fs';
import path from 'node:path';
import { demoDataDir } from '../paths.ts';

export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];

/** A dataset the server can import from files already on the machine, without an upload. */
export interface KnownSource {
  id: string;
  title: string;
  datasetName: string;
  images: string;
  labels: string;
  classNames: string[];
}

/** Where Debian's dataset-fashion-mnist package puts its files. */
const DEBIAN_FASHION_MNIST = '/usr/share/datasets/fashion-mnist';

export const knownSources: KnownSource[] = [
  {
    id: 'fashion-mnist-test',
    title: 'Fashion-MNIST test split (10,000 images, shipped in the repository)',
    datasetName: 'fashion-mnist-test',
    images: path.join(demoDataDir, 'fashion-mnist/t10k-images-idx3-ubyte.gz'),
    labels: path.join(demoDataDir, 'fashion-mnist/t10k-labels-idx1-ubyte.gz'),
    classNames: FASHION_MNIST_CLASSES,
  },
  {
    id: 'fashion-mnist-train',
    title: "Fashion-MNIST train split (60,000 images, from Debian's dataset-fashion-mnist)",
    datasetName: 'fashion-mnist-train',
    images: path.join(DEBIAN_FASHION_MNIST, 'train-images-idx3-ubyte.gz'),
    labels: path.join(DEBIAN_FASHION_MNIST, 'train-labels-idx1-ubyte.gz'),
    classNames: FASHION_MNIST_CLASSES,
  },
];

export function isAvailable(source: KnownSource): boolean {
  return fs.existsSync(source.images) && fs.existsSync(source.labels);
}

export function findKnownSource(id: string): KnownSource | undefined {
  return knownSources.find((s) => s.id === id);
}
